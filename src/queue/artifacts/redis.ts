// The artifact store of the scale-out mode: each artifact is one Redis string with a TTL, so input
// images, section videos, checkpoints and final videos reach whichever machine needs them and are
// gone after ARTIFACT_TTL_HOURS even if nobody cleans up. A size cap keeps one huge video from
// filling the Redis server's memory; a set per job lists its keys for deletion.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ArtifactTooLargeError, jobIdOfKey, jobPrefix, type ArtifactStore } from './artifact-store.ts';

export interface RedisArtifactOptions {
  redisUrl: string;
  ttlHours: number;
  maxMb: number;
  /** Key prefix in Redis. Default 'recurvid:artifact:'. */
  prefix?: string;
}

export class RedisArtifactStore implements ArtifactStore {
  readonly description = 'redis';
  private readonly redis: Redis;
  private readonly ttlMs: number;
  private readonly capBytes: number;
  private readonly prefix: string;

  constructor(options: RedisArtifactOptions) {
    this.redis = new Redis(options.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
    this.redis.on('error', () => undefined); // failures reach the caller of each command
    this.ttlMs = Math.round(options.ttlHours * 3_600_000);
    this.capBytes = Math.round(options.maxMb * 1024 * 1024);
    this.prefix = options.prefix ?? 'recurvid:artifact:';
  }

  private jobSet(key: string): string {
    const jobId = jobIdOfKey(key);
    if (!jobId) throw new Error(`Not an artifact key: ${JSON.stringify(key)}`);
    return `${this.prefix}${jobPrefix(jobId)}keys`;
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    if (bytes.length > this.capBytes) throw new ArtifactTooLargeError(key, bytes.length, this.capBytes);
    const set = this.jobSet(key);
    await this.redis
      .multi()
      .set(this.prefix + key, bytes, 'PX', this.ttlMs)
      .sadd(set, key)
      .pexpire(set, this.ttlMs)
      .exec()
      .then((results) => {
        const failed = results?.find(([error]) => error);
        if (failed) throw failed[0];
      });
  }

  async putFile(key: string, file: string): Promise<void> {
    await this.put(key, await readFile(file));
  }

  async fetchFile(key: string, file: string): Promise<boolean> {
    const bytes = await this.get(key);
    if (!bytes) return false;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.partial`, bytes);
    await rename(`${file}.partial`, file);
    return true;
  }

  /** Nothing is kept on this machine: every file travels through Redis. */
  localPath(): undefined {
    return undefined;
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(this.prefix + key)) ?? undefined;
  }

  async jobBytes(jobId: string): Promise<number> {
    const keys = await this.redis.smembers(`${this.prefix}${jobPrefix(jobId)}keys`);
    if (keys.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.strlen(this.prefix + key);
    const results = (await pipeline.exec()) ?? [];
    return results.reduce((sum, [error, length]) => sum + (error ? 0 : Number(length)), 0);
  }

  async deleteJob(jobId: string): Promise<void> {
    const set = `${this.prefix}${jobPrefix(jobId)}keys`;
    const keys = await this.redis.smembers(set);
    await this.redis.del(set, ...keys.map((k) => this.prefix + k));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
