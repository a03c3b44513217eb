// The pipeline's new job options on the tiny model set: F1 (forward sampling, its own transformer),
// an end image (original model) and MagCache really change what runs, and an F1 job resumes from
// its checkpoint to the same video.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFramePackEngine, onnxLoaders } from '../../../src/engine/framepack.ts';
import { forwardDirection } from '../../../src/engine/direction/index.ts';
import { makeTinyModelSet } from '../../../src/engine/conversion/tiny.ts';
import { readManifest } from '../../../src/engine/modelset/manifest.ts';
import { EngineCancelledError, type Engine } from '../../../src/engine/types.ts';
import { jobOptions, type JobOptions } from '../../../src/options/job-options.ts';
import { resolveFfmpeg } from '../../../src/util/ffmpeg.ts';

const run = promisify(execFile);
let root: string;
let models: string;
let image: string;
let endImage: string;
const calls = { blocks: 0, f1Blocks: 0 };

const opts = (o: Partial<JobOptions>): JobOptions => jobOptions({ steps: 3, windowSize: 3, seconds: 0.8, previews: false, ...o });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'recurvid-variants-'));
  models = join(root, 'tiny');
  await makeTinyModelSet(models, { seed: 7 });
  image = join(root, 'start.png');
  endImage = join(root, 'end.png');
  await sharp({ create: { width: 96, height: 72, channels: 3, background: { r: 30, g: 90, b: 160 } } }).png().toFile(image);
  await sharp({ create: { width: 120, height: 80, channels: 3, background: { r: 230, g: 200, b: 20 } } }).png().toFile(endImage);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The real ONNX components, with the transformer blocks counted per model. */
async function engine(): Promise<Engine> {
  const real = onnxLoaders(models, 'cpu');
  const counted = (load: () => Promise<Awaited<ReturnType<typeof real.transformer>>>, key: keyof typeof calls) => async () => {
    const t = await load();
    return { embed: t.embed.bind(t), head: t.head.bind(t), close: t.close.bind(t), blocks: (e: Parameters<typeof t.blocks>[0]) => { calls[key]++; return t.blocks(e); } };
  };
  return createFramePackEngine({
    modelDir: models, provider: 'cpu', resolution: 64,
    loaders: { ...real, transformer: counted(real.transformer, 'blocks'), transformerF1: counted(real.transformerF1!, 'f1Blocks') },
  });
}

async function frames(path: string): Promise<Buffer> {
  const { stdout } = await run((await resolveFfmpeg()).path, ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 28 });
  return stdout;
}

async function job(e: Engine, name: string, o: JobOptions, end?: string) {
  return e.run({ imagePath: image, ...(end ? { endImagePath: end } : {}), workDir: join(root, name), options: o, signal: new AbortController().signal, onEvent: () => undefined });
}

describe('job options on the tiny set', () => {
  it('the tiny set holds both transformers, recorded with their variant', async () => {
    const m = await readManifest(models);
    expect(m.components.transformer?.extra?.variant).toBe('original');
    expect(m.components.transformer_f1?.extra?.variant).toBe('f1');
    expect(m.components.transformer_f1?.files.embed).toMatch(/^transformer_f1\//);
  });

  it('F1 runs its own transformer forward; an end image and MagCache change the output of the original model', async () => {
    const e = await engine();
    const before = { ...calls };
    const plain = await job(e, 'plain', opts({}));
    const plainCalls = calls.blocks - before.blocks;
    expect(calls.f1Blocks).toBe(before.f1Blocks);
    const f1 = await job(e, 'f1', opts({ model: 'f1' }));
    expect(calls.f1Blocks - before.f1Blocks).toBe(plainCalls); // same steps, the F1 transformer's blocks
    const plans = forwardDirection.planSections(0.8, 3);
    expect(f1.frames).toBe(forwardDirection.framesAfterSections(plans, 3, plans.length));
    const ended = await job(e, 'ended', opts({}), endImage);
    const b0 = calls.blocks;
    const mag = await job(e, 'mag', opts({ cache: 'magcache', steps: 8 }));
    const magCalls = calls.blocks - b0;
    const b1 = calls.blocks;
    await job(e, 'nocache', opts({ cache: 'none', steps: 8 }));
    const noneCalls = calls.blocks - b1;
    await e.close();
    expect(noneCalls).toBe(2 * 8); // 2 sections × 8 steps
    expect(magCalls).toBeLessThan(noneCalls); // MagCache skipped some block passes
    const [a, b, c, d] = (await Promise.all([plain, f1, ended, mag].map((r) => frames(r.videoPath)))) as [Buffer, Buffer, Buffer, Buffer];
    expect(a.equals(b)).toBe(false);
    expect(a.equals(c)).toBe(false);
    expect(a.length).toBe(c.length);
    expect(d.length).toBeGreaterThan(0);
  });

  it('an F1 job resumes from its checkpoint to the same video', async () => {
    const e = await engine();
    const o = opts({ model: 'f1', seconds: 1.2, steps: 2 });
    const full = await job(e, 'f1-full', o);
    const workDir = join(root, 'f1-resumed');
    const ac = new AbortController();
    await expect(e.run({
      imagePath: image, workDir, options: o, signal: ac.signal,
      onEvent: (ev) => { if (ev.type === 'section' && ev.section === 1) ac.abort(); },
    })).rejects.toBeInstanceOf(EngineCancelledError);
    expect(await readdir(workDir)).toContain('checkpoint.safetensors');
    const resumed = await e.run({ imagePath: image, workDir, options: o, signal: new AbortController().signal, onEvent: () => undefined });
    await e.close();
    expect(resumed.resumed).toBe(true);
    expect((await frames(resumed.videoPath)).equals(await frames(full.videoPath))).toBe(true);
  });

  it('refuses an end image with F1 before any work, in a sentence', async () => {
    const e = await engine();
    await expect(job(e, 'f1-end', opts({ model: 'f1' }), endImage)).rejects.toThrow('An end image works only with model=original');
    await e.close();
  });
});
