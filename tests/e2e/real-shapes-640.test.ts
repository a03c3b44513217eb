// Issue 20, at the real 640 bucket (tiny widths keep it fast, the shapes are a user's): a job of three
// sections in each direction (the original model with an end frame, inverted; F1, forward) runs in a
// child process that is SIGKILLed after section 1; the same job run again on the same work directory
// resumes from the checkpoint (sections 2 and 3 only) and ends with exactly the frames of an
// uninterrupted run. Its checkpoints stay under the 16 MB that always fits the Redis artifact cap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { createFramePackEngine } from '../../src/engine/framepack.ts';
import { makeTinyModelSet } from '../../src/engine/conversion/tiny.ts';
import type { Engine, EngineEvent, EngineJob } from '../../src/engine/types.ts';
import { jobOptions } from '../../src/options/job-options.ts';
import { resolveFfmpeg } from '../../src/util/ffmpeg.ts';
import { REAL_SHAPES_RESOLUTION, realShapesMemoryBudgetGb } from './real-shapes-setup.ts';

const run = promisify(execFile);
const MB = 2 ** 20;
let root: string;
let models: string;
let start: string;
let end: string;
let engine: Engine;

async function pattern(path: string, w: number, h: number, phase: number): Promise<void> {
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([(x * 5 + phase) % 256, (y * 3) % 256, (x * y + phase) % 256], (y * w + x) * 3);
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rv-640-'));
  models = join(root, 'tiny');
  await makeTinyModelSet(models, { seed: 20 });
  start = join(root, 'start.png');
  end = join(root, 'end.png');
  await pattern(start, 96, 72, 0);
  await pattern(end, 96, 72, 90);
  engine = await createFramePackEngine({ modelDir: models, provider: 'cpu', resolution: REAL_SHAPES_RESOLUTION, memoryBudgetGb: realShapesMemoryBudgetGb() });
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await rm(root, { recursive: true, force: true });
});

async function rgbFrames(path: string): Promise<{ frames: Buffer; size: string }> {
  const ff = (await resolveFfmpeg()).path;
  const { stdout } = await run(ff, ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 1 << 30 });
  const { stderr } = await run(ff, ['-hide_banner', '-i', path], { encoding: 'utf8' }).catch((e: { stderr: string }) => e);
  return { frames: stdout, size: /(\d{3,})x(\d{3,})/.exec(stderr)?.[0] ?? '?' };
}

/** Runs `job` in a child process and SIGKILLs it as soon as section 1 is finished (and checkpointed). */
async function killAfterFirstSection(job: Pick<EngineJob, 'imagePath' | 'endImagePath' | 'options'>, workDir: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/e2e/engine-child.ts', models, workDir, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: child.stdout })) {
    const e = JSON.parse(line) as { type: string; section?: number };
    if (e.type === 'section' && e.section === 1) {
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      return;
    }
    if (e.type === 'done') throw new Error('the child finished before it could be killed');
  }
  throw new Error(`the child exited without finishing section 1: ${stderr}`);
}

const cases = [
  { name: 'the original model with an end frame (inverted: sections are prepended)', model: 'original' as const, withEnd: true },
  { name: 'F1 (forward: sections are appended)', model: 'f1' as const, withEnd: false },
];

describe('a 640-bucket job killed mid-job and resumed', () => {
  for (const c of cases) {
    it(`${c.name}: three sections, resumed from section 2, frames equal an uninterrupted run`, async () => {
      // Window 1 (4 frames a section) keeps three sections of 640-bucket decoding to seconds.
      const options = jobOptions({ seconds: 0.4, steps: 1, windowSize: 1, previews: false, cache: 'none', seed: 2020, model: c.model });
      const job = { imagePath: start, ...(c.withEnd ? { endImagePath: end } : {}), options };
      const events = (into: EngineEvent[]) => (e: EngineEvent) => into.push(e);

      const straight: EngineEvent[] = [];
      const uninterrupted = await engine.run({ ...job, workDir: join(root, `${c.model}-straight`), signal: new AbortController().signal, onEvent: events(straight) });
      const sections = straight.flatMap((e) => (e.type === 'section' ? [e.sections] : []));
      expect(sections.length).toBeGreaterThanOrEqual(3);

      const workDir = join(root, `${c.model}-killed`);
      await killAfterFirstSection(job, workDir);
      const after: EngineEvent[] = [];
      const resumed = await engine.run({ ...job, workDir, signal: new AbortController().signal, onEvent: events(after) });

      expect(resumed.resumed).toBe(true);
      const sampled = new Set(after.flatMap((e) => (e.type === 'step' ? [e.section] : [])));
      expect([...sampled]).toEqual(Array.from({ length: sections[0]! - 1 }, (_, i) => i + 2)); // section 1 came from the checkpoint
      expect(resumed.frames).toBe(uninterrupted.frames);
      const [a, b] = await Promise.all([rgbFrames(uninterrupted.videoPath), rgbFrames(resumed.videoPath)]);
      expect(a.size).toMatch(/^(6\d\d|5\d\d|7\d\d)x(4\d\d|5\d\d|6\d\d)$/); // the 640 bucket, not a toy shape
      expect(b.size).toBe(a.size);
      expect(a.frames.length).toBeGreaterThan(0);
      expect(b.frames.equals(a.frames)).toBe(true);
      for (const r of [uninterrupted, resumed]) expect(r.checkpointBytes ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(16 * MB);
    }, 300_000);
  }
});
