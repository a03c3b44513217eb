import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFramePackEngine } from '../../../src/engine/framepack.ts';
import { framesAfterSections, framesToUint8, planSections, softAppendBcthw, type Tensor } from '../../../src/engine/functions/index.ts';
import { makeTinyModelSet } from '../../../src/engine/conversion/tiny.ts';
import { NoiseGenerator } from '../../../src/engine/pipeline/prng.ts';
import { EngineCancelledError, type EngineEvent } from '../../../src/engine/types.ts';
import { jobOptions, type JobOptions } from '../../../src/options/job-options.ts';
import { PixelHistory } from '../../../src/engine/video/history.ts';
import { latentPreviewRgb } from '../../../src/engine/video/preview.ts';
import { vaeDecodeFake } from '../../../src/engine/functions/index.ts';
import { resolveFfmpeg, resolveFfprobe } from '../../../src/util/ffmpeg.ts';

const run = promisify(execFile);
let root: string;
let models: string;
let image: string;

// Small windows and a 64-bucket keep the tiny CPU runs to seconds; the code path is the real one.
const RESOLUTION = 64;
const opts = (o: Partial<JobOptions>): JobOptions => jobOptions({ steps: 3, windowSize: 3, previews: true, ...o });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'recurvid-pipeline-'));
  models = join(root, 'tiny');
  await makeTinyModelSet(models, { seed: 7 });
  image = join(root, 'start.png');
  const w = 96, h = 72;
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([x * 2, y * 3, (x + y) % 256], (y * w + x) * 3);
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(image);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function engine() {
  return createFramePackEngine({ modelDir: models, provider: 'cpu', resolution: RESOLUTION });
}

async function decodeFrames(path: string): Promise<Buffer> {
  const ff = await resolveFfmpeg();
  const { stdout } = await run(ff.path, ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 28 });
  return stdout;
}

describe('noise generator', () => {
  it('is deterministic per seed, resumable from its state, and roughly standard normal', () => {
    const a = new NoiseGenerator(5);
    const first = a.normals(1000);
    const state = a.state();
    const next = a.normals(10);
    expect([...new NoiseGenerator(state).normals(10)]).toEqual([...next]);
    expect([...new NoiseGenerator(5).normals(1000)]).toEqual([...first]);
    expect([...new NoiseGenerator(6).normals(4)]).not.toEqual([...first.slice(0, 4)]);
    const big = new NoiseGenerator(1).normals(100_000);
    const mean = big.reduce((s, v) => s + v, 0) / big.length;
    const variance = big.reduce((s, v) => s + (v - mean) ** 2, 0) / big.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
  });
});

describe('latent preview', () => {
  it('is vae_decode_fake laid out as h × (t·w) rgb bytes', () => {
    const latents: Tensor = { data: new NoiseGenerator(3).normals(16 * 2 * 3 * 4).map((v) => v * 3), dims: [1, 16, 2, 3, 4] };
    const { rgb, width, height } = latentPreviewRgb(latents);
    expect([width, height]).toEqual([8, 3]);
    const ref = vaeDecodeFake(latents); // [1,3,2,3,4] in [0,1]
    let worst = 0;
    for (let c = 0; c < 3; c++) for (let t = 0; t < 2; t++) for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) {
      const want = Math.floor(ref.data[((c * 2 + t) * 3 + y) * 4 + x]! * 255);
      worst = Math.max(worst, Math.abs(rgb[(y * 8 + t * 4 + x) * 3 + c]! - want));
    }
    expect(worst).toBeLessThanOrEqual(1); // float32 vs double accumulation may move a value across an integer
    expect(rgb.some((v) => v > 0 && v < 255)).toBe(true);
  });
});

describe('pixel history', () => {
  const clip = (t: number, seed: number): Tensor => {
    const g = new NoiseGenerator(seed);
    return { data: g.normals(3 * t * 2 * 2).map((v) => v * 0.7), dims: [1, 3, t, 2, 2] };
  };
  const join = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

  it('prepending equals the reference chain of float soft appends converted to uint8, handing out final frames as it goes', () => {
    const overlap = 5;
    const first = clip(5, 1), second = clip(13, 2), third = clip(17, 3);
    let reference = first;
    reference = softAppendBcthw(second, reference, overlap);
    reference = softAppendBcthw(third, reference, overlap);
    const h = PixelHistory.empty();
    const taken: Uint8Array[] = [];
    for (const [i, c] of [first, second, third].entries()) {
      h.prepend(c, i === 0 ? 0 : overlap, overlap);
      expect(h.headFrames).toBeLessThanOrEqual(overlap); // memory: only the frames still to blend
      taken.unshift(h.takeFinal()); // later takes are earlier in the video
    }
    expect(h.frames).toBe(reference.dims[2]);
    taken.unshift(h.finishAll());
    expect(h.headFrames).toBe(0);
    expect(join(taken).equals(Buffer.from(framesToUint8(reference)))).toBe(true);
  });

  it('appending (F1 order) equals soft_append_bcthw(history, current) chains', () => {
    const overlap = 5;
    const first = clip(9, 4), second = clip(13, 5), third = clip(13, 6);
    let reference = first;
    reference = softAppendBcthw(reference, second, overlap);
    reference = softAppendBcthw(reference, third, overlap);
    const h = PixelHistory.empty(true);
    const taken: Uint8Array[] = [];
    for (const [i, c] of [first, second, third].entries()) {
      h.append(c, i === 0 ? 0 : overlap, overlap);
      taken.push(h.takeFinal());
    }
    taken.push(h.finishAll());
    expect(join(taken).equals(Buffer.from(framesToUint8(reference)))).toBe(true);
  });
});

describe('FramePack pipeline on the tiny model set', () => {
  it('writes a growing H.264 / yuv420p / 30 fps mp4 with FramePack\'s frame count (2 sections)', async () => {
    const e = await engine();
    const workDir = join(root, 'e2e');
    const events: EngineEvent[] = [];
    const o = opts({ seconds: 0.8 }); // 0.8·30/(3·4) = 2 sections
    const plans = planSections(o.seconds, o.windowSize);
    expect(plans).toHaveLength(2);
    const result = await e.run({ imagePath: image, workDir, options: o, signal: new AbortController().signal, onEvent: (ev) => events.push(ev) });
    await e.close();
    const expected = framesAfterSections(plans, o.windowSize, 2); // (3 + 4)·4 − 3 = 25
    expect(result.frames).toBe(expected);
    const sections = events.filter((ev) => ev.type === 'section');
    expect(sections.map((s) => s.frames)).toEqual([framesAfterSections(plans, 3, 1), expected]);
    const steps = events.filter((ev) => ev.type === 'step');
    expect(steps).toHaveLength(2 * o.steps);
    // Previews: always on a section's first and last step, in between at most every PREVIEW_INTERVAL_MS.
    const ends = steps.filter((s) => s.step === 1 || s.step === s.steps);
    expect(ends).toHaveLength(4);
    expect(ends.every((s) => s.previewPng?.subarray(1, 4).toString() === 'PNG')).toBe(true);
    expect(steps.filter((s) => s.previewPng).every((s) => s.previewPng!.subarray(1, 4).toString() === 'PNG')).toBe(true);
    // stepMs is one step's duration; elapsedMs counts from the job's start and never goes back.
    expect(steps.every((s) => s.stepMs >= 0 && s.stepMs <= s.elapsedMs)).toBe(true);
    expect(steps.every((s, k) => k === 0 || s.elapsedMs >= steps[k - 1]!.elapsedMs)).toBe(true);
    // Every step reports the bytes it passed to and from the transformer's sessions (resident: no weights).
    expect(steps.every((s) => s.transferBytes && s.transferBytes.toDevice > 0 && s.transferBytes.toHost > 0 && s.transferBytes.weights === 0)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'done', frames: expected });
    expect(Object.keys(result.timings)).toEqual(expect.arrayContaining(['encoding_text', 'encoding_image', 'sampling', 'decoding', 'writing']));
    const probe = await resolveFfprobe();
    for (const [path, frames] of [...sections.map((s) => [s.videoPath, s.frames] as const), [result.videoPath, expected] as const]) {
      const { stdout } = await run(probe, ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries',
        'stream=codec_name,pix_fmt,r_frame_rate,nb_read_frames', '-of', 'json', path]);
      const s = (JSON.parse(stdout) as { streams: Array<Record<string, string>> }).streams[0]!;
      expect(s).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', r_frame_rate: '30/1', nb_read_frames: String(frames) });
    }
  });

  it('cancels within one step and leaves no file behind', async () => {
    const e = await engine();
    const workDir = join(root, 'cancel');
    const ac = new AbortController();
    const steps: number[] = [];
    const job = e.run({
      imagePath: image, workDir, options: opts({ seconds: 0.8, steps: 6 }), signal: ac.signal,
      onEvent: (ev) => {
        if (ev.type !== 'step') return;
        steps.push(ev.step);
        if (ev.step === 2) ac.abort();
      },
    });
    await expect(job).rejects.toBeInstanceOf(EngineCancelledError);
    await e.close();
    expect(steps).toEqual([1, 2]);
    expect(existsSync(workDir) ? await readdir(workDir) : []).toEqual([]);
  });

  it('resumes after an interrupted section and produces the same video as an uninterrupted run', async () => {
    const o = opts({ seconds: 1.2, steps: 2, previews: false }); // 3 sections
    expect(planSections(o.seconds, o.windowSize)).toHaveLength(3);
    const e = await engine();
    const full = await e.run({ imagePath: image, workDir: join(root, 'full'), options: o, signal: new AbortController().signal, onEvent: () => undefined });

    const workDir = join(root, 'resumed');
    const ac = new AbortController();
    const first = e.run({
      imagePath: image, workDir, options: o, signal: ac.signal,
      onEvent: (ev) => { if (ev.type === 'section' && ev.section === 1) ac.abort(); },
    });
    await expect(first).rejects.toBeInstanceOf(EngineCancelledError);
    expect((await readdir(workDir)).sort()).toEqual(['checkpoint.safetensors', expect.stringMatching(/^section-001-/)]);

    const sampledSections = new Set<number>();
    const resumed = await e.run({
      imagePath: image, workDir, options: o, signal: new AbortController().signal,
      onEvent: (ev) => { if (ev.type === 'step') sampledSections.add(ev.section); },
    });
    await e.close();
    expect(resumed.resumed).toBe(true);
    expect([...sampledSections]).toEqual([2, 3]);
    expect(resumed.frames).toBe(full.frames);
    const [a, b] = await Promise.all([decodeFrames(full.videoPath), decodeFrames(resumed.videoPath)]);
    expect(a.length).toBeGreaterThan(0);
    expect(a.equals(b)).toBe(true);
  });

  it("reports each job's own model loading time, not a running total of the engine's", async () => {
    const e = await createFramePackEngine({ modelDir: models, provider: 'cpu', resolution: RESOLUTION, keepWarm: true });
    try {
      const o = opts({ seconds: 0.4, previews: false });
      const job = (dir: string) => e.run({ imagePath: image, workDir: join(root, dir), options: o, signal: new AbortController().signal, onEvent: () => undefined });
      const first = await job('loading-1');
      const second = await job('loading-2'); // every session is still open: nothing to load
      expect(first.timings.loading).toBeGreaterThan(0);
      expect(second.timings.loading).toBe(0);
    } finally {
      await e.close();
    }
  });
});

describe('engine memory budget', () => {
  it('logs the transformer plan at startup and streams every block under a tiny budget, with the same video as resident', async () => {
    const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    const log = { info: (obj: Record<string, unknown>, msg: string) => lines.push({ obj, msg }), warn: () => {}, error: () => {}, debug: () => {} };
    // Lossless video (crf 0): streamed and resident blocks sum in different orders, so a pixel may
    // round to the next level; H.264 at crf 16 turns such a one-level change in noise into
    // different encoder decisions, which would hide whether the frames really agree.
    const o = opts({ seconds: 0.4, crf: 0 });
    const resident = await createFramePackEngine({ modelDir: models, provider: 'cpu', resolution: RESOLUTION });
    const a = await resident.run({ imagePath: image, workDir: join(root, 'budget-a'), options: o, signal: new AbortController().signal, onEvent: () => {} });
    await resident.close();
    const small = await createFramePackEngine({
      modelDir: models, provider: 'cpu', resolution: RESOLUTION, preload: true, memoryBudgetGb: 1e-6, log: log as never,
    });
    const open = lines.find((l) => l.msg === 'transformer sessions open');
    expect(open?.obj.transformer).toMatchObject({ mode: 'streaming', residentBlocks: 0, wholeStepGraph: false });
    expect((open?.obj.transformer as { streamedBlocks: number }).streamedBlocks).toBeGreaterThan(0);
    expect(JSON.stringify(open?.obj.transformer)).toMatch(/expectedPerStep640.*to device/);
    const steps: number[] = [];
    const b = await small.run({
      imagePath: image, workDir: join(root, 'budget-b'), options: o, signal: new AbortController().signal,
      onEvent: (ev) => { if (ev.type === 'step') steps.push(ev.transferBytes?.weights ?? 0); },
    });
    await small.close();
    // Streamed weights cross every computed step; the video is the resident one's, frame for frame.
    expect(steps.some((w) => w > 0)).toBe(true);
    expect(b.frames).toBe(a.frames);
    const [va, vb] = [await decodeFrames(a.videoPath), await decodeFrames(b.videoPath)];
    expect(vb.length).toBe(va.length);
    let worst = 0;
    for (let i = 0; i < va.length; i++) worst = Math.max(worst, Math.abs(va[i]! - vb[i]!));
    expect(worst).toBeLessThanOrEqual(2); // one rgb level, through the yuv420p conversion
  });
});
