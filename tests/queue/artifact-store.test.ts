// The artifact store: keys, not paths. The local backend (single machine) and the Redis backend
// (scale-out: size cap, TTL, per-job deletion) behave the same to their callers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { access, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ArtifactTooLargeError, artifactKeys, type ArtifactStore } from '../../src/queue/artifacts/artifact-store.ts';
import { LocalArtifactStore } from '../../src/queue/artifacts/local.ts';
import { RedisArtifactStore } from '../../src/queue/artifacts/redis.ts';
import { onCleanup, runCleanups, tempDataDir } from './helpers.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(runCleanups);

const backends: Array<[string, () => Promise<ArtifactStore>]> = [
  ['local', async () => new LocalArtifactStore(await tempDataDir())],
  ['redis', async () => new RedisArtifactStore({ redisUrl: redis.url, ttlHours: 1, maxMb: 1 })],
];

describe.each(backends)('%s artifact store', (_name, open) => {
  it('stores, returns and deletes a job’s artifacts by key', async () => {
    const store = await open();
    onCleanup(() => store.close());
    const bytes = Buffer.from([1, 2, 3, 250]);
    await store.put(artifactKeys.input('job-1'), bytes);
    await store.put(artifactKeys.work('job-1', 'section-2.mp4'), Buffer.from('mp4'));
    await store.put(artifactKeys.input('job-2'), Buffer.from('other'));
    expect(await store.get(artifactKeys.input('job-1'))).toEqual(bytes);
    expect(await store.get(artifactKeys.final('job-1'))).toBeUndefined();
    await store.deleteJob('job-1');
    expect(await store.get(artifactKeys.input('job-1'))).toBeUndefined();
    expect(await store.get(artifactKeys.work('job-1', 'section-2.mp4'))).toBeUndefined();
    expect(await store.get(artifactKeys.input('job-2'))).toEqual(Buffer.from('other'));
  });

  it('stores and fetches files by key; a missing key fetches nothing', async () => {
    const store = await open();
    onCleanup(() => store.close());
    const dir = await tempDataDir();
    const source = path.join(dir, 'section-001-33f.mp4');
    await writeFile(source, 'video bytes');
    const key = artifactKeys.work('job-3', 'section-001-33f.mp4');
    await store.putFile(key, source);
    const target = path.join(dir, 'elsewhere', 'copy.mp4');
    expect(await store.fetchFile(key, target)).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('video bytes');
    expect(await store.fetchFile(artifactKeys.final('job-3'), path.join(dir, 'none.mp4'))).toBe(false);
    await expect(access(path.join(dir, 'none.mp4'))).rejects.toThrow();
  });

  it('refuses keys that are not job keys (no path tricks)', async () => {
    const store = await open();
    onCleanup(() => store.close());
    expect(() => artifactKeys.input('../etc')).toThrow(/Not a job id/);
    await expect(store.put('../../outside', Buffer.from('x'))).rejects.toThrow(/Not an artifact key/);
  });
});

describe('local artifact store', () => {
  it('is the job layout under DATA_DIR: the engine’s own files are the artifacts, linked, never copied', async () => {
    const dataDir = await tempDataDir();
    const store = new LocalArtifactStore(dataDir);
    expect(artifactKeys.input('j', 'Photo.JPG')).toBe('jobs/j/input.jpg');
    expect(store.localPath(artifactKeys.input('j', 'photo.png'))).toBe(path.join(dataDir, 'jobs', 'j', 'input.png'));
    const workFile = store.localPath(artifactKeys.final('j'));
    expect(workFile).toBe(path.join(dataDir, 'jobs', 'j', 'work', 'final.mp4'));
    // The engine wrote it in place: storing it is a no-op, fetching it to the same path too.
    await mkdir(path.dirname(workFile), { recursive: true });
    await writeFile(workFile, 'final');
    await store.putFile(artifactKeys.final('j'), workFile);
    expect(await store.fetchFile(artifactKeys.final('j'), workFile)).toBe(true);
    // A file elsewhere on the same disk is hard-linked in: same inode, no bytes copied.
    const outside = path.join(dataDir, 'outside.mp4');
    await writeFile(outside, 'section');
    await store.putFile(artifactKeys.work('j', 'section-1.mp4'), outside);
    const linked = store.localPath(artifactKeys.work('j', 'section-1.mp4'));
    expect((await stat(linked)).ino).toBe((await stat(outside)).ino);
    await store.deleteJob('j');
    await expect(access(path.join(dataDir, 'jobs', 'j'))).rejects.toThrow();
    await expect(store.put('cache/x', Buffer.from('x'))).rejects.toThrow(/Not an artifact key/);
  });
});

describe('redis artifact store limits', () => {
  it('caps the size with a sentence and gives every artifact a TTL', async () => {
    const store = new RedisArtifactStore({ redisUrl: redis.url, ttlHours: 2, maxMb: 1, prefix: 'test:' });
    onCleanup(() => store.close());
    await expect(store.put(artifactKeys.final('big'), Buffer.alloc(1024 * 1024 + 1))).rejects.toBeInstanceOf(ArtifactTooLargeError);
    await expect(store.put(artifactKeys.final('big'), Buffer.alloc(2 * 1024 * 1024))).rejects.toThrow(/2\.0 MB, over the artifact store's cap of 1 MB/);
    await store.put(artifactKeys.final('ok'), Buffer.alloc(1000));
    const client = new Redis(redis.url);
    onCleanup(async () => void (await client.quit()));
    const ttl = await client.pttl(`test:${artifactKeys.final('ok')}`);
    expect(ttl).toBeGreaterThan(2 * 3_600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(2 * 3_600_000);
  });
});
