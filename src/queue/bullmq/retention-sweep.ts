// The shared retention policy (../retention.ts) applied to the scale-out queue: what the finished
// jobs hold in Redis plus this bot process's copies. Finished jobs older than JOB_RETENTION_HOURS
// go, then the oldest finished ones until all jobs (running and queued ones count, but stay) fit
// JOB_RETENTION_MB; they lose their record, their files here and their artifacts. BullMQ's own job
// hashes go by age (removeOnComplete/removeOnFail); they hold no files, so their size does not matter.
import type { Redis } from 'ioredis';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { JobQueueConfig } from '../job-queue.ts';
import { directoryBytes, jobDir, removeJobFiles } from '../job-files.ts';
import { chooseExpired, type RetentionCandidate } from '../retention.ts';
import type { JobStore } from '../store.ts';
import { redisKeys } from './protocol.ts';

export interface SweepDeps {
  redis: Redis;
  artifacts: ArtifactStore;
  store: JobStore;
  config: JobQueueConfig;
}

/** Removes what the policy expires; returns how many jobs went. */
export async function sweepFinishedJobs(deps: SweepDeps, activeIds: Iterable<string>, now: number): Promise<number> {
  const { redis, artifacts, store, config } = deps;
  const scored = await redis.zrange(redisKeys.finished, '0', '-1', 'WITHSCORES');
  const bytesOf = async (id: string) => (await artifacts.jobBytes(id)) + (await directoryBytes(jobDir(config.dataDir, id)));
  const candidates: RetentionCandidate[] = [];
  for (let i = 0; i < scored.length; i += 2) {
    const id = scored[i]!;
    candidates.push({ id, finishedAt: Number(scored[i + 1]), bytes: await bytesOf(id) });
  }
  let activeBytes = 0;
  for (const id of activeIds) activeBytes += await artifacts.jobBytes(id);
  const expired = chooseExpired(candidates, activeBytes, config, now);
  let removed = 0;
  for (const id of expired) {
    // Out of the finished set first: a sweep in another bot process skips what this one removes.
    if ((await redis.zrem(redisKeys.finished, id)) === 0) continue;
    await store.deleteJob(id);
    await removeJobFiles(config.dataDir, id);
    await artifacts.deleteJob(id);
    removed += 1;
  }
  return removed;
}
