// One FramePack job, following demo_gradio.py's worker: conditioning, start (and end) image, then
// sections in the model's sampling direction (inverted for the original model, forward for F1), each
// sampled with UniPC, decoded, soft-appended and written as a growing mp4, with a resume checkpoint
// after every section.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cropOrPadYieldMask, sigmasForLatent, type Tensor } from '../functions/index.ts';
import { directionFor, type DirectionSection, type LatentHistory, type PackedContext, type SamplingDirection } from '../direction/index.ts';
import {
  bindVelocityModel, flowMatchDenoiser, sampleUniPC, TEACACHE_DEFAULT_THRESHOLD, type BlockCacheSettings, type MagCacheParams, type UniPCVariant,
} from '../sampler/index.ts';
import {
  END_FRAME_STRENGTH, EngineCancelledError, cacheModeOf, modelOf, type AnimateOptions, type EngineJob, type EngineResult, type EngineStage, type ModelVariant,
} from '../types.ts';
import { PixelHistory } from '../video/history.ts';
import { writeMp4 } from '../video/mp4.ts';
import { latentPreviewPng } from '../video/preview.ts';
import { jobHash, loadCheckpoint, saveCheckpoint, type CheckpointData } from './checkpoint.ts';
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
  /** The transformers the model set holds (a job asking for another one is refused with a sentence). */
  models?: ModelVariant[];
  /** Bucket resolution; FramePack uses 640 (the tiny set may use less to keep CPU runs short). */
  resolution: number;
  teacacheThreshold?: number;
  /** MagCache parameters (threshold, max consecutive skips, retention ratio); defaults as FramePack-Studio. */
  magcache?: Partial<MagCacheParams>;
  variant?: UniPCVariant;
  /** Use the VAE's spatial tiling for decodes. */
  tiledDecode?: boolean;
}

export interface Conditioning {
  llamaVec: Tensor; llamaMask: Uint8Array; clipPooled: Tensor;
  llamaVecN: Tensor; llamaMaskN: Uint8Array; clipPooledN: Tensor;
  imageEmbeddings: Tensor; startLatent: Tensor;
  /** VAE latent of the end image (original model only), before its strength is applied. */
  endLatent?: Tensor;
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

/** What one run of a job knows and uses throughout: options, plan, clocks and the stage reporter. */
interface JobRun {
  job: EngineJob;
  pool: ComponentPool;
  settings: PipelineSettings;
  o: AnimateOptions;
  signal: AbortSignal;
  workDir: string;
  t0: number;
  timings: Timings;
  /** The pool outlives jobs (and may keep sessions warm): this job's loading is what it adds. */
  loadMsAtStart: number;
  direction: SamplingDirection;
  transformerKind: 'transformer' | 'transformerF1';
  plans: DirectionSection[];
  /** The resume hash: options, inputs, model set and bucket. */
  hash: string;
  emitStage: (stage: EngineStage, detail?: string) => void;
  timed: <T>(stage: string, fn: () => Promise<T>) => Promise<T>;
}

/** What grows section by section, and what a checkpoint saves of it. */
interface SectionState {
  cond: Conditioning;
  history: LatentHistory;
  pixels: PixelHistory;
  rng: NoiseGenerator;
  sectionsDone: number;
  videos: string[];
  /** Set when the run resumed from a checkpoint. */
  resumed: boolean;
}

export async function runFramePackJob(job: EngineJob, pool: ComponentPool, settings: PipelineSettings): Promise<EngineResult> {
  const run = await startRun(job, pool, settings);
  const state = await resumeOrEncode(run);
  throwIfCancelled(run.signal);
  try {
    for (let k = state.sectionsDone; k < run.plans.length; k++) await runSection(run, state, k);
  } finally {
    await pool.release(run.transformerKind);
    await pool.release('vae');
  }
  return finishRun(run, state);
}

/** The refusals (before any saved progress is read, so a job that cannot run says why), then the plan. */
async function startRun(job: EngineJob, pool: ComponentPool, settings: PipelineSettings): Promise<JobRun> {
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

  const model = modelOf(o);
  if (!(settings.models ?? ['original']).includes(model)) {
    throw new Error('This model set has no F1 transformer; use model original, or add F1 with `recurvid models pull --f1`.');
  }
  const direction = directionFor(model);
  if (job.endImagePath && !direction.supportsEndFrame) {
    throw new Error('An end image works only with the original model; F1 samples forward from the start image.');
  }
  const hash = await jobHash(job.imagePath, o, settings.modelIdentity, settings.resolution, job.endImagePath);
  return {
    job, pool, settings, o, signal, workDir, t0, timings, loadMsAtStart: pool.loadMs, direction,
    transformerKind: model === 'f1' ? 'transformerF1' : 'transformer',
    plans: direction.planSections(o.seconds, o.windowSize), hash, emitStage, timed,
  };
}

/** The state of a usable checkpoint, or a fresh start: conditioning encoded, history seeded. */
async function resumeOrEncode(run: JobRun): Promise<SectionState> {
  const { job, o, direction, emitStage } = run;
  const checkpoint = await loadCheckpoint(run.workDir, run.hash, (reason) => emitStage('loading', `the saved progress was not used (${reason}); starting from the first section`));
  const floatAtEnd = direction.name === 'forward';
  if (checkpoint) {
    const t = checkpoint.tensors;
    const b = checkpoint.bytes;
    return {
      cond: {
        llamaVec: t.llamaVec!, llamaMask: b.llamaMask!.data, clipPooled: t.clipPooled!,
        llamaVecN: t.llamaVecN!, llamaMaskN: b.llamaMaskN!.data, clipPooledN: t.clipPooledN!,
        imageEmbeddings: t.imageEmbeddings!, startLatent: t.startLatent!,
      },
      history: { latents: t.history!, generated: checkpoint.totalGeneratedLatentFrames },
      pixels: new PixelHistory(t.pixelFloat!, b.pixelBytes!.data, floatAtEnd),
      rng: new NoiseGenerator(checkpoint.prng),
      sectionsDone: checkpoint.sectionsDone,
      videos: [...checkpoint.videos],
      resumed: true,
    };
  }
  const cond = await encodeConditioning(job, run.pool, run.settings, emitStage, run.timed);
  const endFrame = cond.endLatent ? { latent: cond.endLatent, strength: o.endFrameStrength ?? END_FRAME_STRENGTH.default } : undefined;
  return {
    cond,
    history: direction.initialHistory(cond.startLatent, endFrame),
    pixels: PixelHistory.empty(floatAtEnd),
    rng: new NoiseGenerator(o.seed),
    sectionsDone: 0,
    videos: [],
    resumed: false,
  };
}

/** One section: sample it, commit it to the latent history, decode and blend it, write it, checkpoint. */
async function runSection(run: JobRun, state: SectionState, k: number): Promise<void> {
  const { o, signal, direction, plans, emitStage, timed } = run;
  const plan = plans[k]!;
  const sectionNo = k + 1;
  const window = o.windowSize;
  const [, channels, , lh, lw] = state.cond.startLatent.dims as [number, number, number, number, number];

  emitStage('sampling', `section ${sectionNo}/${plans.length}`);
  const generated = await sampleWithEvents(run, state, plan, sectionNo);
  const first = state.pixels.frames === 0;
  state.history = direction.commit(state.history, { data: generated, dims: [1, channels, window, lh, lw] }, plan, state.cond.startLatent);
  // The pool keeps the transformer across sections and jobs; the VAE only while the budget has room.
  throwIfCancelled(signal);

  emitStage('decoding', `section ${sectionNo}/${plans.length}`);
  const vae = await run.pool.get('vae');
  await timed('decoding', async () => {
    const decoded = await vae.decode(direction.decodeWindow(state.history, plan, window, first), { tiled: run.settings.tiledDecode ?? false });
    direction.mergePixels(state.pixels, decoded, window, first);
  });
  await run.pool.release('vae');
  throwIfCancelled(signal);

  emitStage('writing', `section ${sectionNo}/${plans.length}`);
  const { pixels } = state;
  const frames = pixels.frames;
  const videoPath = join(run.workDir, `section-${String(sectionNo).padStart(3, '0')}-${frames}f.mp4`);
  await timed('writing', () => writeMp4(videoPath, pixels.rgbFrames(), frames, pixels.width, pixels.height, { fps: FPS, crf: o.crf, signal }))
    .catch((err: unknown) => { if (signal.aborted) throw new EngineCancelledError(); throw err; });
  state.videos.push(videoPath);
  await timed('writing', () => saveCheckpoint(run.workDir, checkpointOf(run, state, k + 1)));
  run.job.onEvent({ type: 'section', section: sectionNo, sections: plans.length, videoPath, frames, seconds: frames / FPS });
}

/** UniPC over one section, with a step event (and a latent preview at most every PREVIEW_INTERVAL_MS) per step. */
async function sampleWithEvents(run: JobRun, state: SectionState, plan: DirectionSection, sectionNo: number): Promise<Float32Array> {
  const { o, signal, job, plans } = run;
  const [, channels, , lh, lw] = state.cond.startLatent.dims as [number, number, number, number, number];
  const transformer = await run.pool.get(run.transformerKind); // its load time is counted by the pool
  let lastStepAt = performance.now();
  let lastPreviewAt = -Infinity;
  return run.timed('sampling', () => sampleSection({
    transformer, cond: state.cond, context: run.direction.packContext(state.history, state.cond.startLatent), plan, options: o, rng: state.rng, signal,
    cache: blockCacheSettings(o, run.settings), variant: run.settings.variant,
    onStep: async (i, denoised) => {
      const wantPreview = o.previews && (i === 0 || i === o.steps - 1 || performance.now() - lastPreviewAt >= PREVIEW_INTERVAL_MS);
      const previewPng = wantPreview ? await latentPreviewPng({ data: denoised, dims: [1, channels, o.windowSize, lh, lw] }) : undefined;
      const now = performance.now();
      if (previewPng) lastPreviewAt = now;
      const stepMs = Math.round(now - lastStepAt);
      lastStepAt = now;
      const traffic = transformer.takeTraffic?.();
      job.onEvent({
        type: 'step', section: sectionNo, sections: plans.length, step: i + 1, steps: o.steps,
        elapsedMs: Math.round(now - run.t0), stepMs, ...(previewPng ? { previewPng } : {}),
        ...(traffic ? { transferBytes: traffic } : {}),
      });
      throwIfCancelled(signal);
    },
  })).catch((err: unknown) => {
    if (signal.aborted) throw new EngineCancelledError();
    throw err;
  });
}

function checkpointOf(run: JobRun, state: SectionState, sectionsDone: number): CheckpointData {
  const { cond, history, pixels } = state;
  return {
    optionsHash: run.hash, sectionsDone, prng: state.rng.state(), totalGeneratedLatentFrames: history.generated, videos: state.videos,
    tensors: {
      llamaVec: cond.llamaVec, clipPooled: cond.clipPooled, llamaVecN: cond.llamaVecN, clipPooledN: cond.clipPooledN,
      imageEmbeddings: cond.imageEmbeddings, startLatent: cond.startLatent, history: history.latents, pixelFloat: pixels.float,
    },
    bytes: {
      llamaMask: { data: cond.llamaMask, dims: [cond.llamaMask.length] },
      llamaMaskN: { data: cond.llamaMaskN, dims: [cond.llamaMaskN.length] },
      pixelBytes: { data: pixels.bytes, dims: [pixels.bytes.length] },
    },
  };
}

/** The last section's video becomes final.mp4 (atomically); timings and the done event. */
async function finishRun(run: JobRun, state: SectionState): Promise<EngineResult> {
  const { pixels } = state;
  const finalPath = join(run.workDir, 'final.mp4');
  const last = state.videos[state.videos.length - 1];
  if (last) await copyFile(last, `${finalPath}.partial`);
  // Resumed after the last section where its video is not (another machine): the checkpoint's
  // pixel history holds every frame, the same bytes the section video was written from.
  else if (state.resumed) await writeMp4(`${finalPath}.partial`, pixels.rgbFrames(), pixels.frames, pixels.width, pixels.height, { fps: FPS, crf: run.o.crf, signal: run.signal });
  else throw new Error('No section video was produced.');
  await rm(finalPath, { force: true });
  await copyFile(`${finalPath}.partial`, finalPath);
  await rm(`${finalPath}.partial`, { force: true });
  run.timings.add('loading', run.pool.loadMs - run.loadMsAtStart);
  run.timings.add('total', performance.now() - run.t0);
  const frames = pixels.frames;
  run.emitStage('done');
  run.job.onEvent({ type: 'done', videoPath: finalPath, frames, seconds: frames / FPS, timings: run.timings.ms });
  return { videoPath: finalPath, frames, seconds: frames / FPS, timings: run.timings.ms, resumed: state.resumed };
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
  // The end image: resized to the start image's bucket and VAE-encoded; never CLIP-encoded (the model
  // gets the start image's embeddings only, as FramePack-Studio's "Original with Endframe").
  const endLatent = job.endImagePath
    ? await timed('encoding_image', async () => vae.encode(imageToPixels(await prepareStartImage(job.endImagePath!, settings.resolution, { width: img.width, height: img.height }))))
    : undefined;
  await pool.release('vae');
  throwIfCancelled(job.signal);
  const siglip = await pool.get('image');
  const imageEmbeddings = await timed('encoding_image', () => siglip.encode(img.rgb, img.width, img.height));
  await pool.release('image');
  return {
    llamaVec: padded.y, llamaMask: padded.mask, clipPooled: pos.clipPooled,
    llamaVecN: paddedN.y, llamaMaskN: paddedN.mask, clipPooledN: neg.clipPooled,
    imageEmbeddings, startLatent, ...(endLatent ? { endLatent } : {}),
  };
}

/** The block cache a job's options ask for, with the engine's thresholds. */
export function blockCacheSettings(o: AnimateOptions, settings: Pick<PipelineSettings, 'teacacheThreshold' | 'magcache'>): BlockCacheSettings | undefined {
  const mode = cacheModeOf(o);
  if (mode === 'teacache') return { kind: 'teacache', numSteps: o.steps, threshold: settings.teacacheThreshold ?? TEACACHE_DEFAULT_THRESHOLD };
  if (mode === 'magcache') return { kind: 'magcache', numSteps: o.steps, family: modelOf(o) === 'f1' ? 'F1' : 'Original', ...settings.magcache };
  return undefined;
}

export interface SectionSamplingInput {
  transformer: TransformerLike;
  cond: Conditioning;
  /** The section's context latents, packed by the sampling direction. */
  context: PackedContext;
  plan: DirectionSection;
  options: AnimateOptions;
  /** Draws the section's initial noise (one draw per section, as the reference's shared generator). */
  rng: { normals(n: number): Float32Array };
  signal?: AbortSignal;
  cache?: BlockCacheSettings | undefined;
  variant?: UniPCVariant | undefined;
  onStep?: (i: number, denoised: Float32Array) => Promise<void> | void;
}

/** Samples one section's window of latents: binds the packed context, draws the noise and runs UniPC. */
export async function sampleSection(input: SectionSamplingInput): Promise<Float32Array> {
  const { cond, context, plan, options: o } = input;
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
      cleanLatents: context.cleanLatents, cleanLatentIndices: plan.cleanLatentIndices,
      cleanLatents2x: context.cleanLatents2x, cleanLatent2xIndices: plan.cleanLatent2xIndices,
      cleanLatents4x: context.cleanLatents4x, cleanLatent4xIndices: plan.cleanLatent4xIndices,
    },
    ...(input.cache ? { cache: input.cache } : {}),
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
