// Queue positions and ETAs when several GPUs serve one queue: the running jobs first, then the
// waiting ones in fair (round, seq) order; each waiting job starts when the earliest GPU frees up.
// With one GPU this is the single-machine arithmetic (the sum of everything ahead).
import { compareSchedule, type Schedulable } from './fairness.ts';

export interface PlacedJob extends Schedulable {
  id: string;
  running: boolean;
  /** ms this job still needs (running: what is left; waiting: the whole job); null = unknown. */
  estimateMs: number | null;
}

/** 1-based position and ms until each job's video is done (null while anything it waits on is unknown). */
export function placeJobs(jobs: readonly PlacedJob[], gpus: number): Map<string, { position: number; etaMs: number | null }> {
  const running = jobs.filter((j) => j.running).sort(compareSchedule);
  const waiting = jobs.filter((j) => !j.running).sort(compareSchedule);
  const out = new Map<string, { position: number; etaMs: number | null }>();
  // When each GPU is free again; a GPU whose job has no estimate is free at an unknown time.
  const freeAt: Array<number | null> = [];
  for (const job of running) {
    out.set(job.id, { position: out.size + 1, etaMs: job.estimateMs });
    freeAt.push(job.estimateMs);
  }
  while (freeAt.length < Math.max(1, gpus)) freeAt.push(0);
  for (const job of waiting) {
    const known = freeAt.filter((t): t is number => t !== null);
    let eta: number | null = null;
    let slot: number;
    if (known.length === 0 || job.estimateMs === null) {
      slot = freeAt.indexOf(known.length ? Math.min(...known) : null);
      freeAt[slot] = null;
    } else {
      const start = Math.min(...known);
      slot = freeAt.indexOf(start);
      eta = start + job.estimateMs;
      freeAt[slot] = eta;
    }
    out.set(job.id, { position: out.size + 1, etaMs: eta });
  }
  return out;
}

/** A waiting job's estimate is told again once it is off by this much (and at least a minute). */
export const RETELL_DRIFT_SHARE = 0.25;
const RETELL_DRIFT_MIN_MS = 60_000;

/**
 * Whether a waiting job's status should be updated: its position moved, its estimate became known,
 * or what the user was told ("ready in about 10 min") is off from today's estimate by more than a
 * quarter and a minute — as the jobs ahead run, not only when one of them ends. A handful of
 * updates over a long wait, fewer than one per section ahead.
 */
export function worthRetelling(told: { position?: number | undefined; etaMs?: number | null | undefined }, now: { position: number; etaMs: number | null }): boolean {
  if (told.position !== now.position) return true;
  if (now.etaMs === null) return false;
  if (told.etaMs === undefined || told.etaMs === null) return true;
  return Math.abs(now.etaMs - told.etaMs) > Math.max(RETELL_DRIFT_MIN_MS, RETELL_DRIFT_SHARE * told.etaMs);
}
