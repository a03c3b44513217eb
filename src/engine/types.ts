// The engine's public contract. The queue drives an Engine; adapters only ever see these events
// re-emitted by the queue. Nothing here knows about chats.

/** User-facing generation settings, with FramePack's UI ranges. */
export interface AnimateOptions {
  prompt: string;
  /** Used only when cfg > 1. */
  negativePrompt: string;
  seed: number;
  /** Total video length in seconds, 1–120. */
  seconds: number;
  /** Sampling steps per section, 1–100. */
  steps: number;
  teacache: boolean;
  /** Distilled guidance scale, 1–32 (FramePack default 10). */
  distilledCfg: number;
  /** Real CFG scale, 1 = off (one transformer call per step). */
  cfg: number;
  /** CFG re-scale, 0–1, only with cfg > 1. */
  cfgRescale: number;
  /** Latent window size, FramePack default 9. */
  windowSize: number;
  /** H.264 CRF, 0–51, default 16. */
  crf: number;
  /** Produce a small PNG latent preview with each step event. */
  previews: boolean;
  /** Which transformer: the original model (inverted sampling, default) or F1 (forward sampling). */
  model?: ModelVariant;
  /**
   * Block cache: none, TeaCache or MagCache. When absent, `teacache` decides (teacache or none), so
   * option objects written before MagCache existed keep their meaning and their job hash.
   */
  cache?: CacheMode;
  /** End image influence, 0.05–1.0 (default 1.0); only used when the job has an end image. */
  endFrameStrength?: number;
}

export type ModelVariant = 'original' | 'f1';
export const MODEL_VARIANTS = ['original', 'f1'] as const satisfies readonly ModelVariant[];
export type CacheMode = 'none' | 'teacache' | 'magcache';
export const CACHE_MODES = ['none', 'teacache', 'magcache'] as const satisfies readonly CacheMode[];

/** FramePack-Studio's "End Frame Influence" slider. */
export const END_FRAME_STRENGTH = { min: 0.05, max: 1, default: 1 } as const;

export function modelOf(o: Pick<AnimateOptions, 'model'>): ModelVariant {
  return o.model ?? 'original';
}

export function cacheModeOf(o: Pick<AnimateOptions, 'cache' | 'teacache'>): CacheMode {
  return o.cache ?? (o.teacache ? 'teacache' : 'none');
}

export const ANIMATE_LIMITS = {
  seconds: { min: 1, max: 120, default: 5 },
  steps: { min: 1, max: 100, default: 25 },
  distilledCfg: { min: 1, max: 32, default: 10 },
  cfg: { min: 1, max: 32, default: 1 },
  cfgRescale: { min: 0, max: 1, default: 0 },
  windowSize: { min: 1, max: 33, default: 9 },
  crf: { min: 0, max: 51, default: 16 },
  seed: { min: 0, max: 2 ** 32 - 1 },
} as const;

export function defaultAnimateOptions(overrides: Partial<AnimateOptions> = {}): AnimateOptions {
  return {
    prompt: '',
    negativePrompt: '',
    seed: 31337,
    seconds: ANIMATE_LIMITS.seconds.default,
    steps: ANIMATE_LIMITS.steps.default,
    teacache: true,
    distilledCfg: ANIMATE_LIMITS.distilledCfg.default,
    cfg: ANIMATE_LIMITS.cfg.default,
    cfgRescale: ANIMATE_LIMITS.cfgRescale.default,
    windowSize: ANIMATE_LIMITS.windowSize.default,
    crf: ANIMATE_LIMITS.crf.default,
    previews: true,
    ...overrides,
  };
}

export type EngineStage =
  | 'loading'
  | 'encoding_text'
  | 'encoding_image'
  | 'sampling'
  | 'decoding'
  | 'writing'
  | 'done';

export type EngineEvent =
  | { type: 'stage'; stage: EngineStage; detail?: string }
  | {
      type: 'step';
      /** 1-based section number in generation order (FramePack makes the end of the video first). */
      section: number;
      sections: number;
      /** 1-based step number within the section. */
      step: number;
      steps: number;
      /** Milliseconds since the job started (setup included). */
      elapsedMs: number;
      /** Milliseconds this one step took (model call(s) and sampler update); ETAs are built from it. */
      stepMs: number;
      /** Small PNG of the cheap 16→3 latent preview, when previews were asked for. */
      previewPng?: Buffer;
      /**
       * Bytes this step passed between host and execution provider (inputs, streamed weights, outputs
       * left in host memory), counted from the tensors the transformer runtime handed over.
       */
      transferBytes?: { toDevice: number; toHost: number; weights: number };
    }
  | {
      type: 'section';
      section: number;
      sections: number;
      /**
       * A playable mp4 for the chat: the whole video so far, or (past WHOLE_VIDEO_FRAMES, between
       * doublings) only the newest section's frames; `shows` says which.
       */
      videoPath: string;
      shows: 'whole' | 'newest';
      /** Frames and seconds of the whole video so far (not of the clip when it shows the newest). */
      frames: number;
      seconds: number;
      /** The video segment this section finished, which a resume elsewhere needs (stored before the checkpoint). */
      segmentPath?: string;
    }
  | {
      type: 'done';
      videoPath: string;
      frames: number;
      seconds: number;
      /** Milliseconds per stage, e.g. { encoding_text: 120, sampling: 51000, … }. */
      timings: Record<string, number>;
    };

export interface EngineJob {
  /** The input image on disk (any format sharp reads). */
  imagePath: string;
  /** Optional end image on disk (original model only): the video ends on it. */
  endImagePath?: string;
  options: AnimateOptions;
  /**
   * A directory owned by this job. The engine writes section videos, the final video and its
   * resume checkpoint here. Running again with the same workDir and options resumes after the
   * last finished section.
   */
  workDir: string;
  signal: AbortSignal;
  onEvent: (event: EngineEvent) => void;
}

export interface EngineResult {
  videoPath: string;
  frames: number;
  seconds: number;
  timings: Record<string, number>;
  /** True when the job continued from a checkpoint instead of starting over. */
  resumed: boolean;
  /** Bytes this run wrote (segments, preview videos, checkpoints, the final video). */
  bytesWritten?: number;
  /** The largest checkpoint this run wrote, in bytes. */
  checkpointBytes?: number;
}

/** Thrown (or rejected with) when a job's AbortSignal fires. */
export class EngineCancelledError extends Error {
  constructor() {
    super('The job was cancelled.');
    this.name = 'EngineCancelledError';
  }
}

export interface Engine {
  run(job: EngineJob): Promise<EngineResult>;
  /** A short description for logs and /help, e.g. "FramePack tiny model set on cpu". */
  describe(): string;
  /** Releases sessions and memory. */
  close(): Promise<void>;
}
