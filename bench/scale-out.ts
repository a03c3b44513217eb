// Issue 14's measurements, contenders side by side in one run:
//  1. submit → start latency and per-job overhead: the single-machine queue (p-queue + SQLite) vs
//     BullMQ on a loopback redis-server (bots' BullJobQueue → GPU worker), both with a no-op engine.
//  2. the bots' event-loop delay (p99, max) while the real tiny FramePack engine runs a job:
//     in the bots' process (how it was) vs in the engine worker process (how it is now).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { createFramePackEngine } from '../src/engine/framepack.ts';
import { makeTinyModelSet } from '../src/engine/conversion/tiny.ts';
import type { Engine, EngineJob, EngineResult } from '../src/engine/types.ts';
import { jobOptions } from '../src/options/job-options.ts';
import { RedisArtifactStore } from '../src/queue/artifacts/redis.ts';
import { createBullJobQueue } from '../src/queue/bullmq/bull-job-queue.ts';
import { startGpuWorker } from '../src/queue/bullmq/gpu-worker.ts';
import { framePackSpec } from '../src/queue/engine-process/framepack-factory.ts';
import { startProcessEngine } from '../src/queue/engine-process/process-engine.ts';
import { createJobQueue, type JobQueueConfig } from '../src/queue/job-queue.ts';
import { openJobStore } from '../src/queue/store.ts';
import type { JobQueue, JobRequest } from '../src/queue/types.ts';
import { startRedis } from '../tests/queue/redis-server.ts';
import type { Benchmark, BenchResult } from './types.ts';

/** One step event, a final file; no GPU. What is left is the queue's own cost. */
class NoopEngine implements Engine {
  describe(): string {
    return 'no-op engine (benchmark)';
  }
  async close(): Promise<void> {}
  async run(job: EngineJob): Promise<EngineResult> {
    job.onEvent({ type: 'step', section: 1, sections: 1, step: 1, steps: 1, elapsedMs: 0, stepMs: 0 });
    const videoPath = path.join(job.workDir, 'final.mp4');
    await writeFile(videoPath, 'x');
    return { videoPath, frames: 0, seconds: 0, timings: {}, resumed: false };
  }
}

const config = (dataDir: string): JobQueueConfig => ({ dataDir, queueMax: 10_000, perUser: 10_000, adminIds: [], retentionHours: 72, retentionMb: 100_000 });
const req = (image: Buffer, i: number): JobRequest => ({
  platform: 'cli', userId: `u${i % 7}`, reply: {}, image, imageName: 'bench.jpg', options: jobOptions({ seconds: 1, steps: 1, previews: false }),
});
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

function until(queue: JobQueue, type: 'started' | 'done', jobId?: string): Promise<number> {
  return new Promise((resolve) => {
    const off = queue.subscribe((e) => {
      if (e.type === type && (jobId === undefined || e.job.id === jobId)) {
        off();
        resolve(performance.now());
      }
    });
  });
}

/** Median/p95 submit→started over `n` sequential jobs, then ms per job for `batch` jobs at once. */
async function measureQueue(queue: JobQueue, image: Buffer, n: number, batch: number): Promise<{ median: number; p95: number; perJob: number }> {
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const started = until(queue, 'started');
    const { job } = await queue.submit(req(image, i));
    const done = until(queue, 'done', job.id);
    latencies.push((await started) - t0);
    await done;
  }
  latencies.sort((a, b) => a - b);
  const t0 = performance.now();
  const submitted: string[] = [];
  const allDone = new Promise<void>((resolve) => {
    let count = 0;
    queue.subscribe((e) => {
      if (e.type === 'done' && ++count === batch) resolve();
    });
  });
  for (let i = 0; i < batch; i++) submitted.push((await queue.submit(req(image, i))).job.id);
  await allDone;
  return { median: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), perJob: (performance.now() - t0) / batch };
}

async function backends(): Promise<BenchResult[]> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'recurvid-bench-scale-'));
  const image = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#888' } }).jpeg().toBuffer();
  const n = 30;
  const batch = 60;
  const results: BenchResult[] = [];
  try {
    // Single machine: p-queue scheduler, SQLite store, engine called in process.
    const store = await openJobStore({ dataDir: path.join(root, 'embedded') });
    const embedded = createJobQueue({ engine: new NoopEngine(), store, config: config(path.join(root, 'embedded')) });
    await embedded.start();
    const e = await measureQueue(embedded, image, n, batch);
    await embedded.close();
    await store.close();

    // Scale-out: bots' queue → Redis → one GPU worker, everything over loopback TCP.
    const redis = await startRedis();
    try {
      const rstore = await openJobStore({ dataDir: path.join(root, 'bot'), redisUrl: redis.url });
      const artifacts = new RedisArtifactStore({ redisUrl: redis.url, ttlHours: 1, maxMb: 64 });
      const bull = createBullJobQueue({ redisUrl: redis.url, store: rstore, artifacts, config: config(path.join(root, 'bot')) });
      const worker = await startGpuWorker({ redisUrl: redis.url, dataDir: path.join(root, 'gpu'), engine: new NoopEngine(), artifacts, name: 'bench-gpu' });
      await bull.start();
      const b = await measureQueue(bull, image, n, batch);
      await worker.close();
      await bull.close();
      await rstore.close();
      await artifacts.close();
      results.push(
        { name: 'submit → started, single machine (median)', value: e.median, unit: 'ms', note: `p95 ${e.p95.toFixed(2)} ms, ${n} jobs, p-queue + SQLite` },
        { name: 'submit → started, BullMQ (median)', value: b.median, unit: 'ms', note: `p95 ${b.p95.toFixed(2)} ms, ${n} jobs, loopback redis-server, 1 worker` },
        { name: 'per-job overhead back to back, single machine', value: e.perJob, unit: 'ms', note: `${batch} jobs, no-op engine` },
        { name: 'per-job overhead back to back, BullMQ', value: b.perJob, unit: 'ms', note: `${batch} jobs, no-op engine, image + video through the Redis artifact store` },
      );
    } finally {
      await redis.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return results;
}

/** An idle Node process measuring its own event-loop delay: what the machine alone does to timers. */
async function startControl(): Promise<() => Promise<{ max: number; p99: number }>> {
  const script = `const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 5 }); h.enable();
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => { h.disable(); process.stdout.write(JSON.stringify({ max: h.max / 1e6, p99: h.percentile(99) / 1e6 }) + '\\n'); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
  return async () => {
    const exited = once(child, 'exit');
    child.stdin!.write('stop\n');
    await exited;
    return JSON.parse(out.split('\n')[1]!) as { max: number; p99: number };
  };
}

async function eventLoop(): Promise<BenchResult[]> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'recurvid-bench-loop-'));
  try {
    const modelDir = path.join(root, 'tiny');
    await makeTinyModelSet(modelDir);
    const imagePath = path.join(root, 'in.png');
    await sharp({ create: { width: 320, height: 240, channels: 3, background: '#a63' } }).png().toFile(imagePath);
    // The tiny set at a 256 bucket: onnxruntime calls long enough to matter, a job in seconds.
    const spec = { modelDir, provider: 'cpu' as const, resolution: 256 };
    const options = jobOptions({ seconds: 1, steps: 4, previews: true });
    const runOnce = async (engine: Engine, name: string) => {
      const control = await startControl();
      const h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      const t0 = performance.now();
      await engine.run({ imagePath, workDir: path.join(root, name), options, signal: new AbortController().signal, onEvent: () => undefined });
      const ms = performance.now() - t0;
      h.disable();
      return { p99: h.percentile(99) / 1e6, max: h.max / 1e6, ms, control: await control() };
    };
    const inProcess = await createFramePackEngine({ ...spec });
    const a = await runOnce(inProcess, 'in-process');
    await inProcess.close();
    const worker = await startProcessEngine({ spec: framePackSpec(spec), logLevel: 'warn' });
    const b = await runOnce(worker, 'worker-process');
    await worker.close();
    // The same histogram over an idle second: how much of the worst case is the machine itself.
    const idle = monitorEventLoopDelay({ resolution: 5 });
    idle.enable();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    idle.disable();
    const machine = `idle baseline max ${(idle.max / 1e6).toFixed(1)} ms, load ${os.loadavg()[0]!.toFixed(1)}`;
    const note = (r: { p99: number; ms: number; control: { max: number; p99: number } }) =>
      `p99 ${r.p99.toFixed(1)} ms over a ${(r.ms / 1000).toFixed(1)} s job (tiny set, 256 bucket, 4 steps, previews); ` +
      `an idle Node process at the same time: max ${r.control.max.toFixed(1)} ms, p99 ${r.control.p99.toFixed(1)} ms; ${machine}`;
    return [
      { name: "bots' event-loop delay max, engine in-process", value: a.max, unit: 'ms', target: { value: 50, better: 'lower' }, note: note(a) },
      { name: "bots' event-loop delay max, engine worker process", value: b.max, unit: 'ms', target: { value: 50, better: 'lower' }, note: note(b) },
    ];
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export async function suites(): Promise<Benchmark[]> {
  return [
    { name: 'scale-out', description: 'single-machine queue vs BullMQ on Redis: submit→start latency and per-job overhead (no-op engine)', run: backends },
    { name: 'engine-process', description: "bots' event-loop delay while the tiny engine runs: in-process vs its own process", run: eventLoop },
  ];
}
