// Which finished jobs to delete: everything finished longer ago than the age limit, then the oldest
// finished ones until all job files together fit the size limit. Active jobs are never chosen.

export interface RetentionCandidate {
  id: string;
  finishedAt: number;
  bytes: number;
}

export interface RetentionLimits {
  retentionHours: number;
  retentionMb: number;
}

/**
 * @param finished finished jobs with their on-disk size
 * @param activeBytes bytes used by active jobs (they count toward the limit but are kept)
 */
export function chooseExpired(
  finished: readonly RetentionCandidate[],
  activeBytes: number,
  limits: RetentionLimits,
  now: number,
): string[] {
  const cutoff = now - limits.retentionHours * 3_600_000;
  const oldestFirst = [...finished].sort((a, b) => a.finishedAt - b.finishedAt);
  const doomed: string[] = [];
  const kept: RetentionCandidate[] = [];
  for (const job of oldestFirst) (job.finishedAt < cutoff ? doomed.push(job.id) : kept.push(job));
  const limitBytes = limits.retentionMb * 1024 * 1024;
  let total = activeBytes + kept.reduce((sum, j) => sum + j.bytes, 0);
  for (const job of kept) {
    if (total <= limitBytes) break;
    doomed.push(job.id);
    total -= job.bytes;
  }
  return doomed;
}
