// One FramePack job, following demo_gradio.py's worker: conditioning, start (and end) image, then
// sections in the model's sampling direction (inverted for the original model, forward for F1), each
// sampled with UniPC, decoded and soft-appended. Unlike the reference, memory and I/O stay bounded
// per section however long the video: the latent history is cut to what later sections read, the
// frames a section makes final are encoded once into a video segment and leave memory, the chat's
// progress video is joined from segments by stream copy, and the resume checkpoint is O(1) in the
// video's length.
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sigmasForLatent } from '../functions/index.ts';
import { directionFor, type DirectionSection, type LatentHistory, type PackedContext, type SamplingDirection } from '../direction/index.ts';
import {
  bindVelocityModel, flowMatchDenoiser, sampleUniPC, TEACACHE_DEFAULT_THRESHOLD, type BlockCacheSettings, type MagCacheParams, type UniPCVariant,
} from '../sampler/index.ts';
import { EngineCancelledError, type EngineJob, type EngineResult, type EngineStage } from '../types.ts';
import type { JobOptions, ModelVariant } from '../../options/job-options.ts';
import { combinationErrors } from '../../options/rules.ts';
import { PixelHistory } from '../video/history.ts';
import { latentPreviewPng } from '../video/preview.ts';
import { progressVideoKind, type ProgressVideoKind } from '../video/progress-video.ts';
import { SegmentedVideo, type SegmentEncoding } from '../video/segments.ts';
import { CHECKPOINT_FILE, jobHash, loadCheckpoint, saveCheckpoint, type CheckpointData } from './checkpoint.ts';
import type { ComponentPool, TransformerLike } from './components.ts';
import { encodeConditioning, type Conditioning } from './conditioning.ts';
import { NoiseGenerator } from './prng.ts';

export { TEXT_TOKENS, type Conditioning } from './conditioning.ts';

/**
 * Latent previews are rendered at most this often (plus each section's first and last step): chats
 * show one every few seconds at most, and each costs ~10 ms of CPU at the 640 bucket.
 */
export const PREVIEW_INTERVAL_MS = 2000;

export const FPS = 30;
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

class Timings {
  readonly ms: Record<string, number> = {};
  add(stage: string, ms: number): void { this.ms[stage] = (this.ms[stage] ?? 0) + Math.round(ms); }
}

/** Bytes a run writes, for the result and the long-video benchmark. */
class WriteCounter {
  bytes = 0;
  largestCheckpoint = 0;
  async count(path: string): Promise<number> {
    const n = (await stat(path)).size;
    this.bytes += n;
    return n;
  }
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new EngineCancelledError();
}

/** What one run of a job knows and uses throughout: options, plan, clocks and the stage reporter. */
interface JobRun {
  job: EngineJob;
  pool: ComponentPool;
  settings: PipelineSettings;
  o: JobOptions;
  signal: AbortSignal;
  workDir: string;
  t0: number;
  timings: Timings;
  written: WriteCounter;
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
  /** The latent history, cut to what later sections read. */
  history: LatentHistory;
  /** The float frames the next section blends (the final ones are in `video`). */
  pixels: PixelHistory;
  video: SegmentedVideo;
  rng: NoiseGenerator;
  sectionsDone: number;
  /** Video length when the chat was last shown the whole video. */
  lastWholeFrames: number;
  /** The last section's whole video (the final video), once made in this run. */
  wholeVideo?: string;
  /** Set when the run resumed from a checkpoint. */
  resumed: boolean;
}

export async function runFramePackJob(job: EngineJob, pool: ComponentPool, settings: PipelineSettings): Promise<EngineResult> {
  const run = await startRun(job, pool, settings);
  try {
    const state = await resumeOrEncode(run);
    throwIfCancelled(run.signal);
    for (let k = state.sectionsDone; k < run.plans.length; k++) await runSection(run, state, k);
    return await finishRun(run, state);
  } finally {
    await pool.release(run.transformerKind);
    await pool.release('vae');
  }
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

  const model = o.model;
  if (!(settings.models ?? ['original']).includes(model)) {
    throw new Error('This model set has no F1 transformer; use model original, or add F1 with `recurvid models pull --f1`.');
  }
  // The engine's own guard: the combination rules the chats and the CLI apply. (Ranges are the
  // entry points' business: tests and benches run the engine below FramePack's 1 s on purpose.)
  const refused = combinationErrors(o, { endImage: job.endImagePath !== undefined });
  if (refused.length > 0) throw new Error(refused.join(' '));
  const direction = directionFor(model);
  const hash = await jobHash(job.imagePath, o, settings.modelIdentity, settings.resolution, job.endImagePath);
  return {
    job, pool, settings, o, signal, workDir, t0, timings, written: new WriteCounter(), loadMsAtStart: pool.loadMs, direction,
    transformerKind: model === 'f1' ? 'transformerF1' : 'transformer',
    plans: direction.planSections(o.seconds, o.windowSize), hash, emitStage, timed,
  };
}

/** The state of a usable checkpoint, or a fresh start: conditioning encoded, history seeded. */
async function resumeOrEncode(run: JobRun): Promise<SectionState> {
  const { job, o, direction, emitStage } = run;
  const notUsed = (reason: string) => emitStage('loading', `the saved progress was not used (${reason}); starting from the first section`);
  const checkpoint = await loadCheckpoint(run.workDir, run.hash, notUsed);
  const growsAtEnd = direction.name === 'forward';
  if (checkpoint) {
    const resumed = await resumeFrom(run, checkpoint);
    if (resumed) return resumed;
    notUsed('its video segments do not add up to its sections');
  }
  const cond = await encodeConditioning(job, run.pool, run.settings, emitStage, run.timed);
  const endFrame = cond.endLatent ? { latent: cond.endLatent, strength: o.endFrameStrength } : undefined;
  return {
    cond,
    history: direction.initialHistory(cond.startLatent, endFrame),
    pixels: PixelHistory.empty(growsAtEnd),
    video: new SegmentedVideo(run.workDir, growsAtEnd),
    rng: new NoiseGenerator(o.seed),
    sectionsDone: 0,
    lastWholeFrames: 0,
    resumed: false,
  };
}

/**
 * A run continuing after a checkpoint's last section. The float frames the next section blends are
 * not saved: they are the first (inverted) or last (forward) frames of that section's decode, so the
 * same decode of the same latents makes them again. Undefined when the segments and the section
 * count disagree (the checkpoint is then not used).
 */
async function resumeFrom(run: JobRun, cp: CheckpointData): Promise<SectionState | undefined> {
  const { direction, o, plans } = run;
  if (cp.sectionsDone > plans.length) return undefined;
  const growsAtEnd = direction.name === 'forward';
  const video = new SegmentedVideo(run.workDir, growsAtEnd, [...cp.segments]);
  const history: LatentHistory = { latents: cp.history, generated: cp.totalGeneratedLatentFrames };
  let pixels: PixelHistory;
  if (cp.sectionsDone < plans.length) {
    run.emitStage('decoding', `section ${cp.sectionsDone}/${plans.length} again, to continue after it`);
    const vae = await run.pool.get('vae');
    const decoded = await run.timed('decoding', () =>
      vae.decode(direction.decodeWindow(history, plans[cp.sectionsDone - 1]!, o.windowSize, cp.sectionsDone === 1), { tiled: run.settings.tiledDecode ?? false }));
    await run.pool.release('vae');
    const scratch = PixelHistory.empty(growsAtEnd);
    direction.mergePixels(scratch, decoded, o.windowSize, true);
    pixels = new PixelHistory(scratch.float, video.frames, growsAtEnd);
  } else {
    pixels = new PixelHistory({ data: new Float32Array(0), dims: [1, 3, 0, 0, 0] }, video.frames, growsAtEnd);
  }
  if (pixels.frames !== direction.framesAfterSections(plans, o.windowSize, cp.sectionsDone)) return undefined;
  return {
    cond: cp.cond, history, pixels, video, rng: new NoiseGenerator(cp.prng), sectionsDone: cp.sectionsDone,
    lastWholeFrames: cp.lastWholeFrames, resumed: true,
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
  const committed = direction.commit(state.history, { data: generated, dims: [1, channels, window, lh, lw] }, plan, state.cond.startLatent);
  throwIfCancelled(signal);

  emitStage('decoding', `section ${sectionNo}/${plans.length}`);
  // The pool keeps the transformer across sections and jobs; the VAE only while the budget has room.
  const vae = await run.pool.get('vae');
  vae.takeNetworkMs?.();
  await timed('decoding', async () => {
    const decoded = await vae.decode(direction.decodeWindow(committed, plan, window, first), { tiled: run.settings.tiledDecode ?? false });
    direction.mergePixels(state.pixels, decoded, window, first);
  });
  // The decoder's own share of 'decoding'; the rest (tiling, blending, conversions) is ours.
  const decoderMs = vae.takeNetworkMs?.();
  if (decoderMs !== undefined) run.timings.add('decoding_network', decoderMs);
  await run.pool.release('vae');
  state.history = direction.boundHistory(committed, window);
  throwIfCancelled(signal);

  emitStage('writing', `section ${sectionNo}/${plans.length}`);
  const { shows, videoPath, segmentPath } = await timed('writing', () => writeSection(run, state, plan.isLastSection, sectionNo)).catch((err: unknown) => {
    if (signal.aborted) throw new EngineCancelledError();
    throw err;
  });
  state.sectionsDone = sectionNo;
  await timed('writing', async () => {
    await saveCheckpoint(run.workDir, checkpointOf(run, state));
    run.written.largestCheckpoint = Math.max(run.written.largestCheckpoint, await run.written.count(join(run.workDir, CHECKPOINT_FILE)));
  });
  const frames = state.pixels.frames;
  run.job.onEvent({
    type: 'section', section: sectionNo, sections: plans.length, videoPath, shows, frames, seconds: frames / FPS,
    ...(segmentPath !== undefined && { segmentPath }),
  });
}

/**
 * The section's final frames become a segment; then the chat's progress video: the whole video so
 * far or the newest section (progress-video.ts), joined by stream copy with a clip of the float head.
 * The last section finishes every frame, so its whole video is the final one.
 */
async function writeSection(run: JobRun, state: SectionState, isLast: boolean, sectionNo: number): Promise<{ shows: ProgressVideoKind; videoPath: string; segmentPath?: string }> {
  const { pixels, video } = state;
  const size = { width: pixels.width, height: pixels.height };
  const enc: SegmentEncoding = { fps: FPS, crf: run.o.crf, signal: run.signal };
  const segment = await video.add(isLast ? pixels.finishAll() : pixels.takeFinal(), size, enc);
  if (segment) await run.written.count(join(run.workDir, segment.file));
  const frames = pixels.frames;
  const shows = isLast ? 'whole' : progressVideoKind(frames, state.lastWholeFrames);
  const tag = String(sectionNo).padStart(3, '0');
  const videoPath = join(run.workDir, `section-${tag}-${shows === 'whole' ? `${frames}f` : 'newest'}.mp4`);
  const headPath = await video.writeHead(pixels.headRgb(), size, enc, `head-${tag}.mp4`);
  try {
    if (shows === 'whole') await video.assembleAll(videoPath, headPath, run.signal);
    else await video.assembleNewest(videoPath, headPath, run.signal);
  } finally {
    if (headPath) await rm(headPath, { force: true });
  }
  await run.written.count(videoPath);
  if (shows === 'whole') state.lastWholeFrames = frames;
  if (isLast) state.wholeVideo = videoPath;
  return { shows, videoPath, ...(segment && { segmentPath: join(run.workDir, segment.file) }) };
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

function checkpointOf(run: JobRun, state: SectionState): CheckpointData {
  const { cond, history } = state;
  const { endLatent: _end, ...saved } = cond; // the end latent is already in the history
  return {
    optionsHash: run.hash, sectionsDone: state.sectionsDone, prng: state.rng.state(), totalGeneratedLatentFrames: history.generated,
    segments: state.video.segments, lastWholeFrames: state.lastWholeFrames, cond: saved, history: history.latents,
  };
}

/** The last section's whole video becomes final.mp4 (atomically); timings and the done event. */
async function finishRun(run: JobRun, state: SectionState): Promise<EngineResult> {
  const finalPath = join(run.workDir, 'final.mp4');
  const partial = `${finalPath}.partial`;
  if (state.wholeVideo) await copyFile(state.wholeVideo, partial);
  // Resumed after the last section (its video may be on another machine): the segments are the video.
  else if (state.resumed && state.video.segments.length) await state.video.assembleAll(partial, undefined, run.signal);
  else throw new Error('No section video was produced.');
  await rm(finalPath, { force: true });
  await copyFile(partial, finalPath);
  await rm(partial, { force: true });
  await run.written.count(finalPath);
  run.timings.add('loading', run.pool.loadMs - run.loadMsAtStart);
  run.timings.add('total', performance.now() - run.t0);
  const frames = state.pixels.frames;
  run.emitStage('done');
  run.job.onEvent({ type: 'done', videoPath: finalPath, frames, seconds: frames / FPS, timings: run.timings.ms });
  return {
    videoPath: finalPath, frames, seconds: frames / FPS, timings: run.timings.ms, resumed: state.resumed,
    bytesWritten: run.written.bytes, checkpointBytes: run.written.largestCheckpoint,
  };
}

/** The block cache a job's options ask for, with the engine's thresholds. */
export function blockCacheSettings(o: JobOptions, settings: Pick<PipelineSettings, 'teacacheThreshold' | 'magcache'>): BlockCacheSettings | undefined {
  const mode = o.cache;
  if (mode === 'teacache') return { kind: 'teacache', numSteps: o.steps, threshold: settings.teacacheThreshold ?? TEACACHE_DEFAULT_THRESHOLD };
  if (mode === 'magcache') return { kind: 'magcache', numSteps: o.steps, family: o.model === 'f1' ? 'F1' : 'Original', ...settings.magcache };
  return undefined;
}

export interface SectionSamplingInput {
  transformer: TransformerLike;
  cond: Conditioning;
  /** The section's context latents, packed by the sampling direction. */
  context: PackedContext;
  plan: DirectionSection;
  options: JobOptions;
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
