// One job's generation settings, the same object for every entry point (the chat adapters, the
// CLI, the queue's records, the engine): the type, FramePack's ranges and defaults, and the one
// place where records written by earlier versions are brought up to date.

export type ModelVariant = 'original' | 'f1';
export const MODEL_VARIANTS = ['original', 'f1'] as const satisfies readonly ModelVariant[];
export type CacheMode = 'none' | 'teacache' | 'magcache';
export const CACHE_MODES = ['none', 'teacache', 'magcache'] as const satisfies readonly CacheMode[];

/** User-facing generation settings, with FramePack's UI ranges. */
export interface JobOptions {
  prompt: string;
  /** Used only when cfg > 1. */
  negativePrompt: string;
  seed: number;
  /** Total video length in seconds. */
  seconds: number;
  /** Sampling steps per section. */
  steps: number;
  /** Block cache: skip transformer steps with TeaCache or MagCache, or run every step. */
  cache: CacheMode;
  /** Which transformer: the original model (inverted sampling) or F1 (forward sampling). */
  model: ModelVariant;
  /** End image influence (FramePack-Studio's "End Frame Influence"); only used with an end image. */
  endFrameStrength: number;
  /** Distilled guidance scale (FramePack's "Distilled CFG Scale"). */
  distilledCfg: number;
  /** Real CFG scale, 1 = off (one transformer call per step). */
  cfg: number;
  /** CFG re-scale, only with cfg > 1. */
  cfgRescale: number;
  /** Latent window size. */
  windowSize: number;
  /** H.264 CRF of the delivered video (0 = lossless, FramePack's default 16). */
  crf: number;
  /** Produce a small PNG latent preview with each step event. */
  previews: boolean;
}

/** FramePack's ranges (demo_gradio.py's sliders, FramePack-Studio's end-frame slider). */
export const OPTION_LIMITS = {
  seconds: { min: 1, max: 120 },
  steps: { min: 1, max: 100 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  endFrameStrength: { min: 0.05, max: 1 },
  distilledCfg: { min: 1, max: 32 },
  cfg: { min: 1, max: 32 },
  cfgRescale: { min: 0, max: 1 },
  windowSize: { min: 1, max: 33 },
  crf: { min: 0, max: 51 },
} as const;

/** FramePack's defaults (demo_gradio.py), MagCache and F1 off. */
export const DEFAULT_JOB_OPTIONS: Readonly<JobOptions> = Object.freeze({
  prompt: '',
  negativePrompt: '',
  seed: 31337,
  seconds: 5,
  steps: 25,
  cache: 'teacache',
  model: 'original',
  endFrameStrength: 1,
  distilledCfg: 10,
  cfg: 1,
  cfgRescale: 0,
  windowSize: 9,
  crf: 16,
  previews: true,
});

/** A whole option set: the defaults with these fields over them. */
export function jobOptions(overrides: Partial<JobOptions> = {}): JobOptions {
  return { ...DEFAULT_JOB_OPTIONS, ...withoutUndefined(overrides) };
}

/**
 * Stored option fields (a job record, saved /settings, a queued job's payload) as this version
 * reads them. Versions before MagCache kept the cache as a `teacache` boolean; a record with only
 * that flag means TeaCache on or none. Unknown fields are dropped.
 */
export function upgradeStoredOptions(record: object): Partial<JobOptions> {
  const stored = record as Readonly<Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_JOB_OPTIONS)) {
    if (stored[key] !== undefined) out[key] = stored[key];
  }
  if (out.cache === undefined && typeof stored.teacache === 'boolean') out.cache = stored.teacache ? 'teacache' : 'none';
  return out as Partial<JobOptions>;
}

/** A stored whole option set (a job record), upgraded and completed with today's defaults. */
export function storedJobOptions(stored: object): JobOptions {
  return jobOptions(upgradeStoredOptions(stored));
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
