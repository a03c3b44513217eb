// Chat options: "seconds=10 seed=42 steps=25 teacache=off cfg=10 model=f1 cache=magcache" or "--seconds 10 --teacache off",
// anywhere in a message; the rest of the text is the prompt. Discord's typed options reuse the
// same range checks through validateOptions, so both platforms answer with the same sentences.
import {
  ANIMATE_LIMITS, CACHE_MODES, END_FRAME_STRENGTH, MODEL_VARIANTS, defaultAnimateOptions, modelOf,
  type AnimateOptions, type CacheMode, type ModelVariant,
} from '../../engine/types.ts';

export interface OptionCaps {
  /** Server-configured ceilings (MAX_SECONDS, MAX_STEPS), at most FramePack's own limits. */
  maxSeconds: number;
  maxSteps: number;
  /** The transformers the model set holds; when given, a job asking for another is refused. */
  models?: readonly ModelVariant[];
}

/**
 * The server's DEFAULT_CACHE as base options. TeaCache (the default) adds nothing, so option objects,
 * job hashes and timing keys stay what they were before MagCache existed.
 */
export function cacheDefault(mode: CacheMode): Partial<AnimateOptions> {
  return mode === 'teacache' ? {} : { cache: mode, teacache: false };
}

/** The sentence for an end image with F1 (the reference has no forward end frame). */
export const END_IMAGE_NEEDS_ORIGINAL =
  'An end image works only with model=original: F1 samples forward from the start image and has no end frame. Drop the end image or use model=original.';

/** Problems of the option set as a whole, once we know whether an end image came with it. */
export function combinationErrors(options: AnimateOptions, hasEndImage: boolean): string[] {
  return hasEndImage && modelOf(options) === 'f1' ? [END_IMAGE_NEEDS_ORIGINAL] : [];
}

/**
 * The longest prompt (and negative prompt) we take. Status messages repeat the prompt and must stay
 * within Telegram's 4096-character text and 1024-character caption limits (Discord: 2000); Discord's
 * slash option has the same ceiling. Past it the text encoder truncates anyway.
 */
export const MAX_PROMPT_CHARS = 1000;

export interface ParsedAnimateText {
  prompt: string;
  options: AnimateOptions;
  errors: string[];
}

/** The option names users type, in the order we list them. */
export const KNOWN_OPTIONS = ['seconds', 'seed', 'steps', 'teacache', 'cfg', 'model', 'cache', 'end_strength'] as const;
export type KnownOption = (typeof KNOWN_OPTIONS)[number];

const TRUE_WORDS = ['on', 'true', 'yes', '1'];
const FALSE_WORDS = ['off', 'false', 'no', '0'];

const KEY_VALUE = /^([a-z][a-z_-]*)=(.*)$/i;
const FLAG = /^--([a-z][a-z_-]*)(?:=(.*))?$/i;

export function parseAnimateText(text: string, caps: OptionCaps, base: Partial<AnimateOptions> = {}): ParsedAnimateText {
  const tokens = text.split(/\s+/).filter(Boolean);
  const words: string[] = [];
  const raw: Array<[name: string, value: string | undefined]> = [];

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const kv = KEY_VALUE.exec(token);
    if (kv) {
      raw.push([kv[1]!.toLowerCase(), kv[2]!]);
      continue;
    }
    const flag = FLAG.exec(token);
    if (flag) {
      const name = flag[1]!.toLowerCase();
      if (flag[2] !== undefined) {
        raw.push([name, flag[2]]);
      } else if (name === 'teacache' && !isBooleanWord(tokens[i + 1])) {
        raw.push([name, 'on']); // a bare "--teacache" switches it on
      } else if (tokens[i + 1] !== undefined && !FLAG.test(tokens[i + 1]!)) {
        raw.push([name, tokens[++i]]);
      } else {
        raw.push([name, undefined]);
      }
      continue;
    }
    words.push(token);
  }

  const errors: string[] = [];
  const partial: Partial<AnimateOptions> = {};
  for (const [name, value] of raw) {
    if (!isKnown(name)) {
      errors.push(`Unknown option '${name}'. Known: ${KNOWN_OPTIONS.join(', ')}.`);
      continue;
    }
    if (value === undefined || value === '') {
      errors.push(`Option '${name}' needs a value, for example ${example(name)}.`);
      continue;
    }
    const parsed = parseValue(name, value);
    if (typeof parsed === 'string') errors.push(parsed);
    else Object.assign(partial, parsed);
  }

  const prompt = words.join(' ').trim();
  if (prompt) partial.prompt = prompt;
  const validated = validateOptions(partial, caps, base);
  return { prompt, options: validated.options, errors: [...errors, ...validated.errors] };
}

/**
 * Range-checks the given fields and merges them over `base` (and the defaults). A field that is
 * out of range is reported and keeps the base value, so the result is always a runnable job.
 */
export function validateOptions(
  partial: Partial<AnimateOptions>,
  caps: OptionCaps,
  base: Partial<AnimateOptions> = {},
): { options: AnimateOptions; errors: string[] } {
  const options = defaultAnimateOptions(base);
  const errors: string[] = [];
  const maxSeconds = Math.min(caps.maxSeconds, ANIMATE_LIMITS.seconds.max);
  const maxSteps = Math.min(caps.maxSteps, ANIMATE_LIMITS.steps.max);

  const check = <K extends NumericField>(field: K, label: string, min: number, max: number, integer: boolean): void => {
    const value = partial[field];
    if (value === undefined) return;
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      errors.push(`${label} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got ${String(value)}).`);
      return;
    }
    options[field] = value;
  };

  check('seconds', 'seconds', ANIMATE_LIMITS.seconds.min, maxSeconds, false);
  check('steps', 'steps', ANIMATE_LIMITS.steps.min, maxSteps, true);
  check('seed', 'seed', ANIMATE_LIMITS.seed.min, ANIMATE_LIMITS.seed.max, true);
  check('distilledCfg', 'cfg', ANIMATE_LIMITS.distilledCfg.min, ANIMATE_LIMITS.distilledCfg.max, false);
  check('cfg', 'real cfg', ANIMATE_LIMITS.cfg.min, ANIMATE_LIMITS.cfg.max, false);
  check('cfgRescale', 'cfg rescale', ANIMATE_LIMITS.cfgRescale.min, ANIMATE_LIMITS.cfgRescale.max, false);
  check('windowSize', 'window size', ANIMATE_LIMITS.windowSize.min, ANIMATE_LIMITS.windowSize.max, true);
  check('crf', 'crf', ANIMATE_LIMITS.crf.min, ANIMATE_LIMITS.crf.max, true);

  if (partial.teacache !== undefined) {
    options.teacache = partial.teacache;
    if (partial.cache === undefined) delete options.cache; // "teacache=off" overrides a default cache mode
  }
  if (partial.cache !== undefined) {
    options.cache = partial.cache;
    options.teacache = partial.cache === 'teacache'; // keeps the older flag truthful for displays
  }
  if (partial.model !== undefined) {
    if (caps.models && !caps.models.includes(partial.model)) {
      errors.push(`This server's model set has no ${partial.model === 'f1' ? 'F1' : partial.model} transformer; use model=${caps.models.join(' or model=')}.`);
    } else {
      options.model = partial.model;
    }
  }
  if (partial.endFrameStrength !== undefined) {
    const v = partial.endFrameStrength;
    if (!Number.isFinite(v) || v < END_FRAME_STRENGTH.min || v > END_FRAME_STRENGTH.max) {
      errors.push(`end_strength must be a number from ${END_FRAME_STRENGTH.min} to ${END_FRAME_STRENGTH.max} (got ${String(v)}).`);
    } else {
      options.endFrameStrength = v;
    }
  }
  if (partial.previews !== undefined) options.previews = partial.previews;
  const text = (field: 'prompt' | 'negativePrompt', label: string): void => {
    const value = partial[field]?.trim();
    if (value === undefined) return;
    if (value.length > MAX_PROMPT_CHARS) {
      errors.push(`The ${label} is ${value.length} characters; the limit is ${MAX_PROMPT_CHARS}. Please shorten it.`);
      return;
    }
    options[field] = value;
  };
  text('prompt', 'prompt');
  text('negativePrompt', 'negative prompt');
  capMergedResult(options, maxSeconds, maxSteps, caps.models);
  return { options, errors };
}

/**
 * The caps hold for the merged job, not only for what was typed: a server default, saved
 * /settings or a re-rolled job's options may predate a lowered MAX_SECONDS / MAX_STEPS or a model
 * set without F1. Such base values are fitted silently (the user typed nothing wrong).
 */
function capMergedResult(options: AnimateOptions, maxSeconds: number, maxSteps: number, models: readonly ModelVariant[] | undefined): void {
  options.seconds = Math.min(Math.max(options.seconds, ANIMATE_LIMITS.seconds.min), maxSeconds);
  options.steps = Math.min(Math.max(options.steps, ANIMATE_LIMITS.steps.min), maxSteps);
  if (models && models.length > 0 && options.model !== undefined && !models.includes(options.model)) options.model = models[0];
}

type NumericField = 'seconds' | 'steps' | 'seed' | 'distilledCfg' | 'cfg' | 'cfgRescale' | 'windowSize' | 'crf';

function isKnown(name: string): name is KnownOption {
  return (KNOWN_OPTIONS as readonly string[]).includes(name);
}

function isBooleanWord(token: string | undefined): boolean {
  return token !== undefined && [...TRUE_WORDS, ...FALSE_WORDS].includes(token.toLowerCase());
}

function example(name: KnownOption): string {
  return {
    seconds: 'seconds=5', seed: 'seed=42', steps: 'steps=25', teacache: 'teacache=off', cfg: 'cfg=10',
    model: 'model=f1', cache: 'cache=magcache', end_strength: 'end_strength=0.8',
  }[name];
}

/** Converts one typed value; returns an error sentence when it is not even the right kind. */
function parseValue(name: KnownOption, value: string): Partial<AnimateOptions> | string {
  if (name === 'teacache') {
    const word = value.toLowerCase();
    if (TRUE_WORDS.includes(word)) return { teacache: true };
    if (FALSE_WORDS.includes(word)) return { teacache: false };
    return `teacache must be on or off (got '${value}').`;
  }
  if (name === 'model') {
    const word = value.toLowerCase();
    if ((MODEL_VARIANTS as readonly string[]).includes(word)) return { model: word as ModelVariant };
    return `model must be ${MODEL_VARIANTS.join(' or ')} (got '${value}').`;
  }
  if (name === 'cache') {
    const word = value.toLowerCase();
    if (word === 'off') return { cache: 'none' };
    if ((CACHE_MODES as readonly string[]).includes(word)) return { cache: word as CacheMode };
    return `cache must be ${CACHE_MODES.join(', ')} (got '${value}').`;
  }
  if (name === 'seed' && value.toLowerCase() === 'random') {
    return { seed: Math.floor(Math.random() * (ANIMATE_LIMITS.seed.max + 1)) };
  }
  // "seconds=10s" reads naturally in chat; accept the unit.
  const cleaned = name === 'seconds' ? value.replace(/s$/i, '') : value;
  const number = Number(cleaned);
  if (cleaned.trim() === '' || !Number.isFinite(number)) return `${name} must be a number (got '${value}').`;
  switch (name) {
    case 'seconds':
      return { seconds: number };
    case 'seed':
      return { seed: number };
    case 'steps':
      return { steps: number };
    case 'cfg':
      return { distilledCfg: number };
    case 'end_strength':
      return { endFrameStrength: number };
  }
}
