// One FramePack job, following demo_gradio.py's worker: conditioning, start image, then sections in
// inverted (anti-drifting) order, each sampled with UniPC, decoded, soft-appended and written as a
// growing mp4, with a resume checkpoint after every section.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  concatTime, cropOrPadYieldMask, planSections, sectionLatentFrames, sigmasForLatent, sliceTime, type SectionPlan, type Tensor,
} from '../functions/index.ts';
import { bindVelocityModel, flowMatchDenoiser, sampleUniPC, TEACACHE_DEFAULT_THRESHOLD, type UniPCVariant } from '../sampler/index.ts';
import { EngineCancelledError, type AnimateOptions, type EngineJob, type EngineResult, type EngineStage } from '../types.ts';
import { PixelHistory } from '../video/history.ts';
import { writeMp4 } from '../video/mp4.ts';
import { latentPreviewPng } from '../video/preview.ts';
import { jobHash, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import type { ComponentPool, TransformerLike } from './components.ts';
import { imageToPixels, prepareStartImage } from './image.ts';
import { NoiseGenerator } from './prng.ts';

/**
 * Latent previews are rendered at most this often (plus each section's first and last step): chats
 * show one every few seconds at most, and each costs ~10 ms of CPU at the 640 bucket.
 */
export const PREVIEW_INTERVAL_MS = 2000;

export const FPS = 30;
/** FramePack pads / crops the LLaMA vector to this many tokens, with a mask. */
export const TEXT_TOKENS = 512;

export interface PipelineSettings {
  /** Identifies the model set in the resume hash (a different set never resumes a checkpoint). */
  modelIdentity: string;
  /** Bucket resolution; FramePack uses 640 (the tiny set may use less to keep CPU runs short). */
  resolution: number;
  teacacheThreshold?: number;
  variant?: UniPCVariant;
  /** Use the VAE's spatial tiling for decodes. */
  tiledDecode?: boolean;
}

export interface Conditioning {
  llamaVec: Tensor; llamaMask: Uint8Array; clipPooled: Tensor;
  llamaVecN: Tensor; llamaMaskN: Uint8Array; clipPooledN: Tensor;
  imageEmbeddings: Tensor; startLatent: Tensor;
}

class Timings {
  readonly ms: Record<string, number> = {};
  add(stage: string, ms: number): void { this.ms[stage] = (this.ms[stage] ?? 0) + Math.round(ms); }
}

function zerosLike(t: Tensor): Tensor {
  return { data: new Float32Array(t.data.length), dims: [...t.dims] };
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new EngineCancelledError();
}

export async function runFramePackJob(job: EngineJob, pool: ComponentPool, settings: PipelineSettings): Promise<EngineResult> {
  const { options: o, signal, workDir } = job;
  const t0 = performance.now();
  const timings = new Timings();
  const emitStage = (stage: EngineStage, detail?: string) => job.onEvent(detail ? { type: 'stage', stage, detail } : { type: 'stage', stage });
  const timed = async <T>(stage: string, fn: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    try { return await fn(); } finally { timings.add(stage, performance.now() - s); }
  };
  throwIfCancelled(signal);
  await mkdir(workDir, { recursive: true });

  const hash = await jobHash(job.imagePath, o, settings.modelIdentity, settings.resolution);
  const checkpoint = await loadCheckpoint(workDir, hash);
  const plans = planSections(o.seconds, o.windowSize);
  const window = o.windowSize;
  const overlap = window * 4 - 3;

  let cond: Conditioning;
  let history: Tensor;
  let pixels: PixelHistory;
  let rng: NoiseGenerator;
  let sectionsDone = 0;
  let totalLatents = 0;
  const videos: string[] = [];

  if (checkpoint) {
    const t = checkpoint.tensors;
    const b = checkpoint.bytes;
    cond = {
      llamaVec: t.llamaVec!, llamaMask: b.llamaMask!.data, clipPooled: t.clipPooled!,
      llamaVecN: t.llamaVecN!, llamaMaskN: b.llamaMaskN!.data, clipPooledN: t.clipPooledN!,
      imageEmbeddings: t.imageEmbeddings!, startLatent: t.startLatent!,
    };
    history = t.history!;
    pixels = new PixelHistory(t.pixelHead!, b.pixelTail!.data);
    rng = new NoiseGenerator(checkpoint.prng);
    sectionsDone = checkpoint.sectionsDone;
    totalLatents = checkpoint.totalGeneratedLatentFrames;
    videos.push(...checkpoint.videos);
  } else {
    cond = await encodeConditioning(job, pool, settings, emitStage, timed);
    const [, c, , h, w] = cond.startLatent.dims as [number, number, number, number, number];
    history = { data: new Float32Array(c * 19 * h * w), dims: [1, c, 19, h, w] };
    pixels = PixelHistory.empty();
    rng = new NoiseGenerator(o.seed);
  }
  throwIfCancelled(signal);

  const [, channels, , lh, lw] = cond.startLatent.dims as [number, number, number, number, number];
  try {
    for (let k = sectionsDone; k < plans.length; k++) {
      const plan = plans[k]!;
      const sectionNo = k + 1;
      emitStage('sampling', `section ${sectionNo}/${plans.length}`);
      const transformer = await timed('loading', () => pool.get('transformer'));
      let lastStepAt = performance.now();
      let lastPreviewAt = -Infinity;
      const generated = await timed('sampling', () => sampleSection({
        transformer, cond, history, plan, options: o, rng, signal,
        teacacheThreshold: settings.teacacheThreshold, variant: settings.variant,
        onStep: async (i, denoised) => {
          const wantPreview = o.previews && (i === 0 || i === o.steps - 1 || performance.now() - lastPreviewAt >= PREVIEW_INTERVAL_MS);
          const previewPng = wantPreview ? await latentPreviewPng({ data: denoised, dims: [1, channels, window, lh, lw] }) : undefined;
          const now = performance.now();
          if (previewPng) lastPreviewAt = now;
          const stepMs = Math.round(now - lastStepAt);
          lastStepAt = now;
          const traffic = transformer.takeTraffic?.();
          job.onEvent({
            type: 'step', section: sectionNo, sections: plans.length, step: i + 1, steps: o.steps,
            elapsedMs: Math.round(now - t0), stepMs, ...(previewPng ? { previewPng } : {}),
            ...(traffic ? { transferBytes: traffic } : {}),
          });
          throwIfCancelled(signal);
        },
      })).catch((err: unknown) => {
        if (signal.aborted) throw new EngineCancelledError();
        throw err;
      });
      let section: Tensor = { data: generated, dims: [1, channels, window, lh, lw] };
      if (plan.isLastSection) section = concatTime([cond.startLatent, section]);
      totalLatents += section.dims[2]!;
      history = concatTime([section, history]);
      // The pool keeps the transformer across sections and jobs; the VAE only while the budget has room.
      throwIfCancelled(signal);

      emitStage('decoding', `section ${sectionNo}/${plans.length}`);
      const vae = await timed('loading', () => pool.get('vae'));
      await timed('decoding', async () => {
        const first = pixels.frames === 0;
        const latents = sliceTime(history, 0, first ? totalLatents : sectionLatentFrames(plan, window) + window);
        const decoded = await vae.decode(latents, { tiled: settings.tiledDecode ?? false });
        pixels.prepend(decoded, first ? 0 : overlap, overlap);
      });
      await pool.release('vae');
      throwIfCancelled(signal);

      emitStage('writing', `section ${sectionNo}/${plans.length}`);
      const frames = pixels.frames;
      const videoPath = join(workDir, `section-${String(sectionNo).padStart(3, '0')}-${frames}f.mp4`);
      await timed('writing', () => writeMp4(videoPath, pixels.rgbFrames(), frames, pixels.width, pixels.height, { fps: FPS, crf: o.crf, signal }))
        .catch((err: unknown) => { if (signal.aborted) throw new EngineCancelledError(); throw err; });
      videos.push(videoPath);
      await timed('writing', () => saveCheckpoint(workDir, {
        optionsHash: hash, sectionsDone: k + 1, prng: rng.state(), totalGeneratedLatentFrames: totalLatents, videos,
        tensors: {
          llamaVec: cond.llamaVec, clipPooled: cond.clipPooled, llamaVecN: cond.llamaVecN, clipPooledN: cond.clipPooledN,
          imageEmbeddings: cond.imageEmbeddings, startLatent: cond.startLatent, history, pixelHead: pixels.head,
        },
        bytes: {
          llamaMask: { data: cond.llamaMask, dims: [cond.llamaMask.length] },
          llamaMaskN: { data: cond.llamaMaskN, dims: [cond.llamaMaskN.length] },
          pixelTail: { data: pixels.tail, dims: [pixels.tail.length] },
        },
      }));
      job.onEvent({ type: 'section', section: sectionNo, sections: plans.length, videoPath, frames, seconds: frames / FPS });
    }
  } finally {
    await pool.release('transformer');
    await pool.release('vae');
  }

  const finalPath = join(workDir, 'final.mp4');
  const last = videos[videos.length - 1];
  if (!last) throw new Error('No section video was produced.');
  await copyFile(last, `${finalPath}.partial`);
  await rm(finalPath, { force: true });
  await copyFile(`${finalPath}.partial`, finalPath);
  await rm(`${finalPath}.partial`, { force: true });
  timings.add('loading', pool.loadMs);
  timings.add('total', performance.now() - t0);
  const frames = pixels.frames;
  emitStage('done');
  job.onEvent({ type: 'done', videoPath: finalPath, frames, seconds: frames / FPS, timings: timings.ms });
  return { videoPath: finalPath, frames, seconds: frames / FPS, timings: timings.ms, resumed: checkpoint !== undefined };
}

async function encodeConditioning(
  job: EngineJob, pool: ComponentPool, settings: PipelineSettings,
  emitStage: (s: EngineStage, d?: string) => void, timed: <T>(stage: string, fn: () => Promise<T>) => Promise<T>,
): Promise<Conditioning> {
  const o = job.options;
  emitStage('loading', 'text encoders');
  emitStage('encoding_text');
  const text = await pool.get('text');
  const { pos, neg } = await timed('encoding_text', async () => {
    const p = await text.encode(o.prompt);
    // With cfg = 1 the negative branch is never evaluated; FramePack passes zeros.
    const n = o.cfg === 1 ? { llamaVec: zerosLike(p.llamaVec), clipPooled: zerosLike(p.clipPooled) } : await text.encode(o.negativePrompt);
    return { pos: p, neg: n };
  });
  await pool.release('text');
  throwIfCancelled(job.signal);
  const padded = cropOrPadYieldMask(pos.llamaVec, TEXT_TOKENS);
  const paddedN = cropOrPadYieldMask(neg.llamaVec, TEXT_TOKENS);

  emitStage('encoding_image');
  const img = await timed('encoding_image', () => prepareStartImage(job.imagePath, settings.resolution));
  const vae = await pool.get('vae');
  const startLatent = await timed('encoding_image', () => vae.encode(imageToPixels(img)));
  await pool.release('vae');
  throwIfCancelled(job.signal);
  const siglip = await pool.get('image');
  const imageEmbeddings = await timed('encoding_image', () => siglip.encode(img.rgb, img.width, img.height));
  await pool.release('image');
  return {
    llamaVec: padded.y, llamaMask: padded.mask, clipPooled: pos.clipPooled,
    llamaVecN: paddedN.y, llamaMaskN: paddedN.mask, clipPooledN: neg.clipPooled,
    imageEmbeddings, startLatent,
  };
}

export interface SectionSamplingInput {
  transformer: TransformerLike;
  cond: Conditioning;
  /** History latents, newest first ([1,C,≥19,h,w]; zeros before the first section). */
  history: Tensor;
  plan: SectionPlan;
  options: AnimateOptions;
  rng: NoiseGenerator;
  signal?: AbortSignal;
  teacacheThreshold?: number | undefined;
  variant?: UniPCVariant | undefined;
  onStep?: (i: number, denoised: Float32Array) => Promise<void> | void;
}

/**
 * Samples one section's window of latents: packs the context (start latent + newest history frame
 * at 1×, the next 2 at 2×, the next 16 at 4×), draws the noise and runs UniPC.
 */
export async function sampleSection(input: SectionSamplingInput): Promise<Float32Array> {
  const { cond, history, plan, options: o } = input;
  const [, channels, , lh, lw] = cond.startLatent.dims as [number, number, number, number, number];
  const window = o.windowSize;
  const handle = bindVelocityModel(input.transformer, {
    positive: { llamaVec: cond.llamaVec, llamaMask: cond.llamaMask, clipPooled: cond.clipPooled },
    negative: { llamaVec: cond.llamaVecN, llamaMask: cond.llamaMaskN, clipPooled: cond.clipPooledN },
    imageEmbeddings: cond.imageEmbeddings,
    distilledCfg: o.distilledCfg,
    section: {
      latentDims: [1, channels, window, lh, lw],
      latentIndices: plan.latentIndices,
      cleanLatents: concatTime([cond.startLatent, sliceTime(history, 0, 1)]),
      cleanLatentIndices: plan.cleanLatentIndices,
      cleanLatents2x: sliceTime(history, 1, 3), cleanLatent2xIndices: plan.cleanLatent2xIndices,
      cleanLatents4x: sliceTime(history, 3, 19), cleanLatent4xIndices: plan.cleanLatent4xIndices,
    },
    ...(o.teacache ? { teacache: { numSteps: o.steps, threshold: input.teacacheThreshold ?? TEACACHE_DEFAULT_THRESHOLD } } : {}),
  });
  return sampleUniPC({
    noise: input.rng.normals(channels * window * lh * lw),
    sigmas: sigmasForLatent(o.steps, window, lh, lw),
    ...(input.signal ? { signal: input.signal } : {}),
    variant: input.variant ?? 'bh1',
    denoise: flowMatchDenoiser(handle.model, { cfg: o.cfg, cfgRescale: o.cfgRescale }),
    onStep: ({ i, denoised }) => input.onStep?.(i, denoised),
  });
}
