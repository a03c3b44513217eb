// The job's files go through the artifact store, by key, in single-machine mode too: the embedded
// queue's runner and the scale-out GPU worker share one EngineWorkspace, and the runner does not care
// which store it has. With the local store the keys are the job's own files (nothing copied).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { artifactKeys } from '../../src/queue/artifacts/artifact-store.ts';
import { EngineWorkspace, MissingArtifactError, storeJobInputs } from '../../src/queue/artifacts/job-artifacts.ts';
import { LocalArtifactStore } from '../../src/queue/artifacts/local.ts';
import { RedisArtifactStore } from '../../src/queue/artifacts/redis.ts';
import { createJobQueue } from '../../src/queue/job-queue.ts';
import { openJobStore } from '../../src/queue/store.ts';
import { EngineCancelledError } from '../../src/engine/types.ts';
import { jobOptions } from '../../src/options/job-options.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { EventLog, baseConfig, onCleanup, request, runCleanups, startQueue, tempDataDir, testImage } from './helpers.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(runCleanups);

const openRedisStore = () => {
  const store = new RedisArtifactStore({ redisUrl: redis.url, ttlHours: 1, maxMb: 5 });
  onCleanup(() => store.close());
  return store;
};

describe('embedded queue and the artifact store', () => {
  it('with the local store, every file of a job is an artifact under its key, in place', async () => {
    const dataDir = await tempDataDir();
    const { queue, events, engine } = await startQueue({ dataDir });
    const { job } = await queue.submit(await request('u1'));
    const done = await events.waitFor('done', job.id);
    const store = new LocalArtifactStore(dataDir);
    expect(store.localPath(artifactKeys.input(job.id, 'photo.png'))).toBe(job.imagePath);
    expect(await store.get(artifactKeys.input(job.id, 'photo.png'))).toEqual(await testImage());
    expect(store.localPath(artifactKeys.final(job.id))).toBe(done.job.result!.videoPath);
    expect((await store.get(artifactKeys.final(job.id)))?.toString()).toBe('fake mp4: 2 sections\n');
    expect(JSON.parse((await store.get(artifactKeys.sections(job.id)))!.toString())).toEqual(['segment-0001.mp4', 'segment-0002.mp4']);
    expect(JSON.parse((await store.get(artifactKeys.checkpoint(job.id)))!.toString())).toEqual({ sectionsDone: 2 });
    // The engine read and wrote exactly those files.
    expect(engine.calls[0]).toMatchObject({ imagePath: job.imagePath, workDir: job.workDir });
  });

  it('runs the same with the Redis store: the runner does not care which store it has', async () => {
    const dataDir = await tempDataDir();
    const store = await openJobStore({ dataDir });
    const artifacts = openRedisStore();
    const engine = new FakeEngine();
    const queue = createJobQueue({ engine, store, artifacts, config: baseConfig(dataDir) });
    const events = new EventLog(queue);
    onCleanup(async () => {
      await queue.close();
      await store.close();
    });
    await queue.start();
    const { job } = await queue.submit(await request('u1', {}, { imageName: 'cat.JPEG' }));
    const done = await events.waitFor('done', job.id);
    expect(await artifacts.get(artifactKeys.input(job.id, 'cat.jpeg'))).toEqual(await testImage());
    expect((await artifacts.get(artifactKeys.work(job.id, 'section-2.mp4')))?.toString()).toMatch(/sections 1-2 of 2/);
    expect((await artifacts.get(artifactKeys.final(job.id)))?.toString()).toBe('fake mp4: 2 sections\n');
    expect(await readFile(done.job.result!.videoPath, 'utf8')).toBe('fake mp4: 2 sections\n');
    expect(path.dirname(done.job.result!.videoPath)).toBe(job.workDir);
  });
});

describe('EngineWorkspace', () => {
  const options = jobOptions({ prompt: 'p', seconds: 2, steps: 2 });

  it('resumes on another machine from the stored checkpoint and fetches its segments, not the progress videos', async () => {
    const artifacts = openRedisStore();
    const files = { jobId: 'move-me', imageName: 'in.png' };
    await storeJobInputs(artifacts, files, await testImage());
    const engine = new FakeEngine({ sections: 3, steps: 1 });

    // Machine A: stops after section 2 (a drain, or the machine is lost right after).
    const a = await EngineWorkspace.open(artifacts, files, path.join(await tempDataDir(), 'job'));
    expect(a.resuming).toBe(false);
    const stop = new AbortController();
    await expect(engine.run({
      imagePath: a.imagePath, workDir: a.workDir, options, signal: stop.signal,
      onEvent: (e) => {
        if (e.type !== 'section') return;
        a.storeSection(e, (error) => { throw error; });
        if (e.section === 2) stop.abort();
      },
    })).rejects.toBeInstanceOf(EngineCancelledError);
    await a.flush();

    // Machine B: another data dir; the workspace brings the checkpoint and the segments it builds on.
    const bDir = path.join(await tempDataDir(), 'job');
    const b = await EngineWorkspace.open(artifacts, files, bDir);
    expect(b.resuming).toBe(true);
    expect(b.workDir.startsWith(bDir)).toBe(true);
    expect(await readFile(path.join(b.workDir, 'segment-0001.mp4'), 'utf8')).toBe('fake segment 1\n');
    expect(await readFile(path.join(b.workDir, 'segment-0002.mp4'), 'utf8')).toBe('fake segment 2\n');
    await expect(readFile(path.join(b.workDir, 'section-2.mp4'))).rejects.toThrow(); // progress videos stay behind
    const result = await engine.run({
      imagePath: b.imagePath, workDir: b.workDir, options, signal: new AbortController().signal,
      onEvent: (e) => { if (e.type === 'section') b.storeSection(e, (error) => { throw error; }); },
    });
    expect(engine.calls.map((c) => c.startSection)).toEqual([0, 2]);
    const final = await b.storeFinal(result.videoPath);
    expect((await artifacts.get(final.key))?.toString()).toBe('fake mp4: 3 sections\n');
    expect(JSON.parse((await artifacts.get(artifactKeys.sections('move-me')))!.toString())).toEqual(['segment-0001.mp4', 'segment-0002.mp4', 'segment-0003.mp4']);
  });

  it('says which input is missing from the store', async () => {
    const artifacts = openRedisStore();
    await expect(EngineWorkspace.open(artifacts, { jobId: 'gone', imageName: 'x.png' }, await tempDataDir())).rejects.toBeInstanceOf(MissingArtifactError);
    await expect(EngineWorkspace.open(artifacts, { jobId: 'gone', imageName: 'x.png' }, await tempDataDir())).rejects.toThrow(/input image is no longer in the artifact store/);
  });
});
