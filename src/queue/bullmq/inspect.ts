// What `recurvid doctor` says about scale-out: can Redis be reached, which GPU workers BullMQ sees
// on the queue, and how many jobs are active. Short timeouts: a doctor must not hang.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME, redisKeys } from './protocol.ts';

export interface ScaleOutReport {
  reachable: boolean;
  /** Redis server version, or why it could not be reached. */
  detail: string;
  workers: string[];
  activeJobs: number;
}

export async function inspectScaleOut(redisUrl: string, timeoutMs = 3_000): Promise<ScaleOutReport> {
  const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown version';
    const activeJobs = await redis.hlen(redisKeys.active);
    const queue = new Queue(QUEUE_NAME, { connection: { url: redisUrl, maxRetriesPerRequest: 0, connectTimeout: timeoutMs } });
    try {
      // BullMQ names a worker's Redis connection `<queue client name>:w:<worker name>`.
      const workers = (await queue.getWorkers()).map((w) => /:w:(.+)$/.exec(w.rawname ?? '')?.[1] ?? `unnamed (${w.addr ?? 'unknown address'})`);
      return { reachable: true, detail: `Redis ${version}`, workers, activeJobs };
    } finally {
      await queue.close();
    }
  } catch (error) {
    return { reachable: false, detail: error instanceof Error ? error.message : String(error), workers: [], activeJobs: 0 };
  } finally {
    redis.disconnect();
  }
}
