// Issue "Queue": kill the process after section 1 of 3; the restarted queue resumes the job from its
// checkpoint and the final video's frames equal those of an uninterrupted run with the same seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { createFramePackEngine } from '../../src/engine/framepack.ts';
import { planSections } from '../../src/engine/functions/index.ts';
import { makeTinyModelSet } from '../../src/engine/conversion/tiny.ts';
import { createJobQueue, openJobStore, type QueueEvent } from '../../src/queue/index.ts';
import { resolveFfmpeg } from '../../src/util/ffmpeg.ts';
import { queueConfig, resumeTestOptions, RESUME_TEST_RESOLUTION } from './resume-setup.ts';

const run = promisify(execFile);
let root: string;
let models: string;
let image: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rv-kill-'));
  models = join(root, 'tiny');
  await makeTinyModelSet(models, { seed: 11 });
  image = join(root, 'start.png');
  const w = 96, h = 72;
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([(x * 5) % 256, (y * 3) % 256, (x * y) % 256], (y * w + x) * 3);
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(image);
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function decodeFrames(path: string): Promise<Buffer> {
  const ff = (await resolveFfmpeg()).path;
  const { stdout } = await run(ff, ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 1 << 28 });
  return stdout;
}

/** Runs the queue in a child process and SIGKILLs it as soon as section 1 is finished. */
async function runChildUntilFirstSection(dataDir: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/e2e/queue-child.ts', dataDir, models, image], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: child.stdout })) {
    const e = JSON.parse(line) as { type: string; event?: string; section?: number; jobId: string };
    if (e.type === 'engine' && e.event === 'section' && e.section === 1) {
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      return e.jobId;
    }
    if (e.type === 'done' || e.type === 'failed') throw new Error(`child finished before it could be killed: ${line}`);
  }
  throw new Error(`child exited without finishing section 1: ${stderr}`);
}

describe('a job interrupted by a killed process', () => {
  it('resumes after a restart from section 2 and ends with the frames of an uninterrupted run', async () => {
    const options = resumeTestOptions();
    expect(planSections(options.seconds, options.windowSize)).toHaveLength(3);
    const engine = await createFramePackEngine({ modelDir: models, provider: 'cpu', resolution: RESUME_TEST_RESOLUTION });
    try {
      const uninterrupted = await engine.run({
        imagePath: image, workDir: join(root, 'uninterrupted'), options, signal: new AbortController().signal, onEvent: () => undefined,
      });

      const dataDir = join(root, 'data');
      const jobId = await runChildUntilFirstSection(dataDir);

      // The restart: a new queue on the same SQLite file, the same engine settings.
      const store = await openJobStore({ dataDir });
      const queue = createJobQueue({ engine, store, config: queueConfig(dataDir) });
      const events: QueueEvent[] = [];
      const finished = new Promise<QueueEvent>((resolve) =>
        queue.subscribe((e) => {
          events.push(e);
          if (e.job.id === jobId && (e.type === 'done' || e.type === 'failed')) resolve(e);
        }),
      );
      await queue.start();
      const end = await finished;
      await queue.close();
      await store.close();

      expect(end.type).toBe('done');
      expect(events.some((e) => e.type === 'resumed' && e.job.id === jobId)).toBe(true);
      expect(end.job.resumes).toBe(1);
      const sampled = new Set(events.flatMap((e) => (e.type === 'engine' && e.event.type === 'step' ? [e.event.section] : [])));
      expect([...sampled]).toEqual([2, 3]); // section 1 came from the checkpoint, not sampled again
      expect(end.job.result?.frames).toBe(uninterrupted.frames);
      const [a, b] = await Promise.all([decodeFrames(uninterrupted.videoPath), decodeFrames(end.job.result!.videoPath)]);
      expect(a.length).toBeGreaterThan(0);
      expect(b.equals(a)).toBe(true);
    } finally {
      await engine.close();
    }
  }, 120_000);
});
