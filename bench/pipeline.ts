// Pipeline benchmarks: (1) our own per-step overhead at FramePack's real 640-bucket size
// (544×704 → latent 68×88, window 9) with the transformer replaced by a no-op, split into UniPC +
// packing, TeaCache metric, and preview; (2) the tiny model set's end-to-end seconds per frame.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { invertedDirection } from '../src/engine/direction/index.ts';
import type { Conditioning } from '../src/engine/pipeline/run.ts';
import { PREVIEW_INTERVAL_MS, sampleSection } from '../src/engine/pipeline/run.ts';
import { NoiseGenerator } from '../src/engine/pipeline/prng.ts';
import { latentPreviewPng } from '../src/engine/video/preview.ts';
import { jobOptions } from '../src/options/job-options.ts';
import type { Benchmark, BenchResult } from './types.ts';
import { HIDDEN, LATENT, noOpTransformer, TOKENS, zeros } from './no-op-transformer.ts';
import { machineDescription } from './machine.ts';

function conditioning(): Conditioning {
  const mask = new Uint8Array(512).fill(1, 0, 40);
  return {
    llamaVec: zeros([1, 512, 4096]), llamaMask: mask, clipPooled: zeros([1, 768]),
    llamaVecN: zeros([1, 512, 4096]), llamaMaskN: mask, clipPooledN: zeros([1, 768]),
    imageEmbeddings: zeros([1, 729, 1152]), startLatent: zeros([1, 16, 1, LATENT.h, LATENT.w]),
  };
}

/** Wall and process-CPU milliseconds per step (CPU time is the fairer number on a shared machine). */
async function msPerStep(teacache: boolean, previews: boolean, steps = 25): Promise<{ wall: number; cpu: number }> {
  const options = jobOptions({ steps, cache: teacache ? 'teacache' : 'none', previews, windowSize: LATENT.t, seconds: 5 });
  const plan = invertedDirection.planSections(options.seconds, options.windowSize)[0]!;
  const transformer = noOpTransformer(teacache);
  const cond = conditioning();
  const context = invertedDirection.packContext(invertedDirection.initialHistory(cond.startLatent), cond.startLatent);
  const run = () => sampleSection({
    transformer, cond, context, plan, options, rng: new NoiseGenerator(1),
    cache: teacache ? { kind: 'teacache', numSteps: steps, threshold: 0.15 } : undefined,
    // The step callback does what the pipeline's does, minus emitting.
    onStep: previews ? async (_i, denoised) => void (await latentPreviewPng({ data: denoised, dims: [1, 16, LATENT.t, LATENT.h, LATENT.w] })) : undefined,
  });
  // Warm-up: V8 needs a few sections before the hot loops are fully optimised (a running bot is warm).
  for (let i = 0; i < 3; i++) await run();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await run();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / steps, cpu: (c.user + c.system) / 1000 / steps };
}

/** A 13B step on an H100 takes about 1.5 s (the reference figure). */
const REAL_STEP_MS = 1500;

/** Share of steps that render a preview under the engine's rule (first, last, then every PREVIEW_INTERVAL_MS). */
function previewShare(steps = 25, stepMs = REAL_STEP_MS): number {
  let last = -Infinity;
  let count = 0;
  for (let i = 0; i < steps; i++) {
    const now = (i + 1) * stepMs;
    if (i === 0 || i === steps - 1 || now - last >= PREVIEW_INTERVAL_MS) {
      count++;
      last = now;
    }
  }
  return count / steps;
}

/** The latent preview (16→3 map + PNG encode) of one real-size window, timed alone. */
async function previewMs(runs = 10): Promise<{ wall: number; cpu: number }> {
  const denoised = zeros([1, 16, LATENT.t, LATENT.h, LATENT.w]);
  for (let i = 0; i < denoised.data.length; i++) denoised.data[i] = Math.sin(i * 0.01);
  await latentPreviewPng(denoised); // warm-up
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) await latentPreviewPng(denoised);
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / runs, cpu: (c.user + c.system) / 1000 / runs };
}


const stepOverhead: Benchmark = {
  name: 'pipeline-step-overhead',
  description: 'Own per-step cost at 544×704 (latent 68×88, window 9) with a no-op transformer',
  async run(): Promise<BenchResult[]> {
    const base = await msPerStep(false, false, 25);
    // Fewer steps here: every step passes over the real-size modulated input (50M values).
    const withTeaCache = await msPerStep(true, false, 8);
    const base8 = await msPerStep(false, false, 8);
    const teacache8 = (key: 'wall' | 'cpu') => withTeaCache[key] - base8[key];
    const note = `${machineDescription()}; no-op transformer; TeaCache on ${TOKENS} tokens × ${HIDDEN}`;
    const line = (name: string, key: 'wall' | 'cpu', value: number, target?: number): BenchResult => ({
      name: `${name} (${key})`, value, unit: 'ms', note, ...(target ? { target: { value: target, better: 'lower' as const } } : {}),
    });
    const lines: BenchResult[] = [];
    const preview = await previewMs();
    const share = previewShare();
    for (const key of ['wall', 'cpu'] as const) {
      // TeaCache's share is the difference of two runs with the same step count; it is large
      // (hundreds of ms) next to the noise of that subtraction. The preview is timed on its own.
      const teacache = teacache8(key);
      const previewPerStep = preview[key] * share;
      lines.push(
        line('unipc+noise+packing ms/step', key, base[key], 15),
        line('preview ms (one render)', key, preview[key]),
        line(`preview ms/step (${(share * 100).toFixed(0)}% of 1.5 s steps render one)`, key, previewPerStep),
        line('unipc+packing+preview ms/step', key, base[key] + previewPerStep, 15),
        line('teacache metric+residual ms/step', key, teacache),
        line('all overhead ms/step (teacache + previews)', key, base[key] + previewPerStep + teacache, 15),
      );
    }
    return [
      ...lines,
    ];
  },
};

const tinyEndToEnd: Benchmark = {
  name: 'pipeline-tiny-e2e',
  description: 'Tiny model set, 2 s video, 25 steps, TeaCache: seconds per generated frame',
  async run(): Promise<BenchResult[]> {
    const { makeTinyModelSet } = await import('../src/engine/conversion/tiny.ts');
    const { createFramePackEngine, TINY_RESOLUTION } = await import('../src/engine/framepack.ts');
    const dir = await mkdtemp(join(tmpdir(), 'recurvid-bench-'));
    try {
      await makeTinyModelSet(join(dir, 'tiny'), { seed: 0 });
      const image = join(dir, 'in.png');
      await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 140, b: 200 } } }).png().toFile(image);
      const engine = await createFramePackEngine({ modelDir: join(dir, 'tiny'), provider: 'cpu' });
      const t0 = performance.now();
      const r = await engine.run({
        imagePath: image, workDir: join(dir, 'job'), signal: new AbortController().signal, onEvent: () => undefined,
        options: jobOptions({ seconds: 2, steps: 25, previews: true }),
      });
      const seconds = (performance.now() - t0) / 1000;
      await engine.close();
      const note = `${machineDescription()}; ${TINY_RESOLUTION}-bucket, ${r.frames} frames; stage ms ${JSON.stringify(r.timings)}`;
      return [
        { name: 'tiny s/frame', value: seconds / r.frames, unit: 's', note },
        { name: 'tiny total', value: seconds, unit: 's', note },
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export async function suites(): Promise<Benchmark[]> {
  return [stepOverhead, tinyEndToEnd];
}
