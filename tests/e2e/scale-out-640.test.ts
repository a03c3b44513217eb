// Issue 20, scale-out at the real 640 bucket: a job admitted through BullMQ with the default
// ARTIFACT_MAX_MB runs on a real `recurvid worker` process (BUCKET_RESOLUTION=640, tiny widths),
// which is SIGKILLed after section 1; a second worker process resumes it from the checkpoint that
// travelled through Redis (sections 2 and 3 only), and the final video's frames equal an
// uninterrupted run's. Before #20 the checkpoint held every frame and passed the cap by section 3.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { QueueEvents } from 'bullmq';
import { loadConfig } from '../../src/config.ts';
import { createFramePackEngine } from '../../src/engine/framepack.ts';
import { makeTinyModelSet } from '../../src/engine/conversion/tiny.ts';
import { RedisArtifactStore } from '../../src/queue/artifacts/redis.ts';
import { artifactKeys } from '../../src/queue/artifacts/artifact-store.ts';
import { createBullJobQueue, type BullJobQueue } from '../../src/queue/bullmq/bull-job-queue.ts';
import { QUEUE_NAME, type GpuProgress } from '../../src/queue/bullmq/protocol.ts';
import { openJobStore, type JobStore } from '../../src/queue/store.ts';
import { resolveFfmpeg } from '../../src/util/ffmpeg.ts';
import { baseConfig, request } from '../queue/helpers.ts';
import { startRedis, type RedisServer } from '../queue/redis-server.ts';
import { REAL_SHAPES_RESOLUTION, realShapesMemoryBudgetGb } from './real-shapes-setup.ts';

const run = promisify(execFile);
const MB = 2 ** 20;

interface Proc { child: ChildProcess; lines: string[]; exited: Promise<void> }

async function worker(env: Record<string, string>): Promise<Proc> {
  const child = spawn(process.execPath, ['bin/recurvid.mjs', 'worker'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        if (line.includes('GPU worker is taking jobs')) resolve();
      });
    }
  });
  await Promise.race([ready, exited.then(() => Promise.reject(new Error(`the worker exited early:\n${lines.join('\n')}`)))]);
  return { child, lines, exited };
}

async function rgbFrames(path: string): Promise<Buffer> {
  const ff = (await resolveFfmpeg()).path;
  return (await run(ff, ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 1 << 30 })).stdout;
}

describe('scale-out at the 640 bucket with the default artifact cap', () => {
  let root: string;
  let redis: RedisServer;
  let store: JobStore;
  let artifacts: RedisArtifactStore;
  let queue: BullJobQueue;
  let events: QueueEvents;
  const procs: Proc[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rv-scale640-'));
    redis = await startRedis();
    await makeTinyModelSet(join(root, 'models', 'tiny'), { seed: 21 });
    const botDir = join(root, 'bot');
    store = await openJobStore({ dataDir: botDir, redisUrl: redis.url });
    artifacts = new RedisArtifactStore({ redisUrl: redis.url, ttlHours: 1, maxMb: loadConfig({}).ARTIFACT_MAX_MB });
    queue = createBullJobQueue({ redisUrl: redis.url, store, artifacts, config: baseConfig(botDir), refreshMs: 200 });
    await queue.start();
    events = new QueueEvents(QUEUE_NAME, { connection: { url: redis.url } });
    await events.waitUntilReady();
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }
    await events?.close();
    await queue?.close();
    await artifacts?.close();
    await store?.close();
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('completes a job whose worker was SIGKILLed after section 1 on the other worker, frames equal', async () => {
    const env = (name: string) => ({
      REDIS_URL: redis.url, QUEUE_BACKEND: 'bullmq', LOG_LEVEL: 'info', MODELS_DIR: join(root, 'models'), MODEL_SET: 'tiny',
      BUCKET_RESOLUTION: String(REAL_SHAPES_RESOLUTION), DATA_DIR: join(root, name), WORKER_NAME: name, WORKER_LOCK_MS: '2000',
    });
    const seen: Array<{ worker: string; type: string; section?: number }> = [];
    let checkpointBytes = 0;
    const workerA = await worker(env('gpu-a'));
    procs.push(workerA);
    let killedAfterSection1!: () => void;
    const killed = new Promise<void>((resolve) => (killedAfterSection1 = resolve));
    events.on('progress', ({ jobId, data }) => {
      const p = data as unknown as GpuProgress;
      seen.push({ worker: p.worker, type: p.event.type, ...('section' in p.event ? { section: p.event.section } : {}) });
      if (p.event.type !== 'section') return;
      void artifacts.get(artifactKeys.checkpoint(jobId)).then((b) => (checkpointBytes = Math.max(checkpointBytes, b?.length ?? 0)));
      if (p.worker === 'gpu-a' && p.event.section === 1) {
        workerA.child.kill('SIGKILL');
        killedAfterSection1();
      }
    });

    // Window 1 (4 frames a section): three sections of 640-bucket work in seconds.
    const { job } = await queue.submit(await request('u640', { seconds: 0.4, windowSize: 1, steps: 1, cache: 'none', previews: false, seed: 640 }));
    await killed;
    await workerA.exited;
    expect(workerA.child.signalCode).toBe('SIGKILL');
    const workerB = await worker(env('gpu-b'));
    procs.push(workerB);

    const deadline = Date.now() + 240_000;
    let record = await store.getJob(job.id);
    while (record && !['done', 'failed', 'cancelled'].includes(record.state) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      record = await store.getJob(job.id);
    }
    expect(record?.state, record?.error ?? '').toBe('done');
    expect(record!.resumes).toBe(1);
    const onB = seen.filter((e) => e.worker === 'gpu-b' && e.type === 'step').map((e) => e.section);
    expect([...new Set(onB)]).toEqual([2, 3]); // section 1 came from the checkpoint in Redis
    expect(checkpointBytes).toBeGreaterThan(0);
    expect(checkpointBytes).toBeLessThanOrEqual(16 * MB);

    const engine = await createFramePackEngine({ modelDir: join(root, 'models', 'tiny'), provider: 'cpu', resolution: REAL_SHAPES_RESOLUTION, memoryBudgetGb: realShapesMemoryBudgetGb() });
    try {
      const reference = await engine.run({ imagePath: record!.imagePath, workDir: join(root, 'reference'), options: record!.options, signal: new AbortController().signal, onEvent: () => undefined });
      const [a, b] = await Promise.all([rgbFrames(reference.videoPath), rgbFrames(record!.result!.videoPath)]);
      expect(a.length).toBeGreaterThan(0);
      expect(b.equals(a)).toBe(true);
    } finally {
      await engine.close();
    }
    workerB.child.kill('SIGTERM');
    await workerB.exited;
  }, 360_000);
});
