// Queue overhead with an engine that does no work: how long from submit() to the job's `started`
// event, how much the queue adds per job back to back, how many events/second flow to a listener,
// and the worst event-loop stall meanwhile (targets: < 5 ms per job, < 50 ms stall).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import sharp from 'sharp';
import type { Engine, EngineJob, EngineResult } from '../src/engine/types.ts';
import { jobOptions } from '../src/options/job-options.ts';
import { createJobQueue } from '../src/queue/job-queue.ts';
import { openJobStore } from '../src/queue/store.ts';
import type { JobQueue, JobRequest, QueueEvent } from '../src/queue/types.ts';
import type { Benchmark, BenchResult } from './types.ts';
import { machineDescription } from './machine.ts';

/** Emits `stepsPerJob` step events synchronously, no GPU, no files. */
class NoopEngine implements Engine {
  constructor(private readonly stepsPerJob: number) {}
  describe(): string {
    return 'no-op engine (benchmark)';
  }
  async close(): Promise<void> {}
  async run(job: EngineJob): Promise<EngineResult> {
    const n = this.stepsPerJob;
    for (let step = 1; step <= n; step++) {
      job.onEvent({ type: 'step', section: 1, sections: 1, step, steps: n, elapsedMs: 0, stepMs: 0 });
      // A real engine awaits onnxruntime between steps; yield like it (in batches, to stress the queue).
      if (step % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    job.onEvent({ type: 'done', videoPath: path.join(job.workDir, 'none.mp4'), frames: 0, seconds: 0, timings: {} });
    return { videoPath: path.join(job.workDir, 'none.mp4'), frames: 0, seconds: 0, timings: {}, resumed: false };
  }
}

async function withQueue<T>(loop: IntervalHistogram, stepsPerJob: number, body: (queue: JobQueue, image: Buffer) => Promise<T>): Promise<T> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'recurvid-bench-queue-'));
  const store = await openJobStore({ dataDir });
  const queue = createJobQueue({
    engine: new NoopEngine(stepsPerJob),
    store,
    config: { dataDir, queueMax: 10_000, perUser: 10_000, adminIds: [], retentionHours: 72, retentionMb: 100_000 },
  });
  await queue.start();
  loop.enable();
  const image = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#888' } }).jpeg().toBuffer();
  try {
    return await body(queue, image);
  } finally {
    loop.disable();
    await queue.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const req = (image: Buffer, i: number): JobRequest => ({
  platform: 'cli',
  userId: `u${i % 7}`,
  reply: {},
  image,
  imageName: 'bench.jpg',
  options: jobOptions({ seconds: 1, steps: 1 }),
});

function waitFor(queue: JobQueue, match: (e: QueueEvent) => boolean): Promise<QueueEvent> {
  return new Promise((resolve) => {
    const off = queue.subscribe((e) => {
      if (match(e)) {
        off();
        resolve(e);
      }
    });
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

async function measure(): Promise<BenchResult[]> {
  // Measured over the runs only (not module loading or opening the store), one histogram per phase.
  const phases = { latency: monitorEventLoopDelay({ resolution: 5 }), backToBack: monitorEventLoopDelay({ resolution: 5 }), events: monitorEventLoopDelay({ resolution: 5 }) };

  // 1. Idle queue: submit() call → `started` event (includes saving the image and two store writes).
  const latencies = await withQueue(phases.latency, 1, async (queue, image) => {
    const out: number[] = [];
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      const startedAt = new Promise<number>((resolve) => {
        const off = queue.subscribe((e) => {
          if (e.type === 'started') {
            off();
            resolve(performance.now());
          }
        });
      });
      const { job } = await queue.submit(req(image, i));
      out.push((await startedAt) - t0);
      await waitFor(queue, (e) => e.type === 'done' && e.job.id === job.id);
    }
    return out.sort((a, b) => a - b);
  });

  // 2. Back to back: 200 jobs submitted at once, engine time ~0, so wall time / jobs is what the
  // queue adds per job (submit, image save, writes, scheduling, events).
  const backToBack = await withQueue(phases.backToBack, 1, async (queue, image) => {
    const n = 200;
    const t0 = performance.now();
    const submitted = await Promise.all(Array.from({ length: n }, (_, i) => queue.submit(req(image, i))));
    const lastId = submitted.at(-1)!.job.id;
    const done = waitFor(queue, (e) => e.type === 'done' && e.job.id === lastId);
    if ((await queue.get(lastId))?.state !== 'done') await done;
    return (performance.now() - t0) / n;
  });

  // 3. Event throughput: 5 jobs × 20 000 step events to one listener.
  const throughput = await withQueue(phases.events, 20_000, async (queue, image) => {
    let events = 0;
    queue.subscribe(() => {
      events += 1;
    });
    const t0 = performance.now();
    const lastDone = new Promise<void>((resolve) => {
      let done = 0;
      queue.subscribe((e) => {
        if (e.type === 'done' && ++done === 5) resolve();
      });
    });
    for (let i = 0; i < 5; i++) await queue.submit(req(image, i));
    await lastDone;
    return events / ((performance.now() - t0) / 1000);
  });

  const machine = `${machineDescription()}, load ${os.loadavg()[0]!.toFixed(1)}`;
  // The same histogram over an idle second: how much of the worst case is the machine, not the queue.
  const idle = monitorEventLoopDelay({ resolution: 5 });
  idle.enable();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  idle.disable();
  const worst = Math.max(...Object.values(phases).map((h) => h.max)) / 1e6;
  const perPhase = Object.entries(phases).map(([name, h]) => `${name} max ${(h.max / 1e6).toFixed(1)} / p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms`).join(', ');
  return [
    { name: 'submit → started, idle queue (median)', value: percentile(latencies, 0.5), unit: 'ms', target: { value: 5, better: 'lower' }, note: `p95 ${percentile(latencies, 0.95).toFixed(2)} ms, ${latencies.length} jobs, SQLite store` },
    { name: 'queue time added per job, back to back', value: backToBack, unit: 'ms', target: { value: 5, better: 'lower' }, note: '200 jobs, no-op engine' },
    { name: 'engine events delivered through the queue', value: throughput, unit: 'events/s', note: '5 jobs × 20 000 step events, one listener' },
    { name: 'worst event-loop delay during the runs', value: worst, unit: 'ms', target: { value: 50, better: 'lower' }, note: `${perPhase}; idle baseline max ${(idle.max / 1e6).toFixed(1)} ms; ${machine}` },
  ];
}

export async function suites(): Promise<Benchmark[]> {
  return [{ name: 'queue', description: 'scheduler overhead with a no-op engine (SQLite store)', run: measure }];
}
