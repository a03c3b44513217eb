// The options a user can give a job, in one table. What people type in chat ("seconds=8",
// "--seconds 8"), Discord's typed /animate options, the CLI's flags, the range checks with their
// sentences and what /settings stores all come from these entries; adding an option is one entry
// here and its use in the engine.
import {
  CACHE_MODES, MODEL_VARIANTS, OPTION_LIMITS, type CacheMode, type JobOptions, type ModelVariant,
} from './job-options.ts';

/** What a server allows, at most FramePack's own limits. */
export interface OptionCaps {
  /** MAX_SECONDS / MAX_STEPS (and a server's own lower ones). */
  maxSeconds: number;
  maxSteps: number;
  /** The transformers the model set holds; when given, a job asking for another is refused. */
  models?: readonly ModelVariant[];
}

/** FramePack's own limits as caps: the CLI runs on the operator's machine and is capped by nothing else. */
export const FRAMEPACK_CAPS: OptionCaps = { maxSeconds: OPTION_LIMITS.seconds.max, maxSteps: OPTION_LIMITS.steps.max };

/** A raw value as it arrives: a typed word, or Discord's already typed number or boolean. */
export type RawValue = string | number | boolean;

type NumericField = 'seconds' | 'steps' | 'seed' | 'endFrameStrength' | 'distilledCfg' | 'cfg' | 'cfgRescale' | 'windowSize' | 'crf';

interface SpecBase {
  /** The name users type (absent: set by the program only, e.g. the window size). */
  name?: string;
  /** Other names accepted in chat text and flags. */
  aliases?: readonly string[];
  /** The name in sentences ("seconds must be …"). */
  label: string;
  /** One line for help texts, Discord's option description (≤ 100 characters) and the CLI. */
  help(caps: OptionCaps): string;
  example?: string;
  /** Whether /settings may store it; a string says why not. Options without a name are never stored. */
  saved?: true | string;
}

export type OptionSpec =
  | (SpecBase & {
      kind: 'integer' | 'number';
      field: NumericField;
      range(caps: OptionCaps): { min: number; max: number };
      /** A unit users may write after the number ("10s"). */
      unit?: string;
      /** Words that stand for a value ("seed=random"). */
      words?: Readonly<Record<string, () => number>>;
    })
  | (SpecBase & {
      kind: 'choice';
      field: 'cache' | 'model';
      /** Every value the option has. */
      values: readonly string[];
      /** The values the caps allow (a model set without F1 has no `f1`). */
      choices(caps: OptionCaps): readonly string[];
      /** Display names for Discord's choices. */
      display?: Readonly<Record<string, string>>;
      /** Other words for a choice ("cache=off"). */
      words?: Readonly<Record<string, string>>;
      /** The sentence for a choice the caps exclude (default: the list of choices). */
      unavailable?(value: string, caps: OptionCaps): string;
    })
  | (SpecBase & {
      /** An on/off switch that sets another field ("teacache=off" sets the cache to none). */
      kind: 'switch';
      field: 'cache';
      on: CacheMode;
      off: CacheMode;
    })
  | (SpecBase & { kind: 'text'; field: 'prompt' | 'negativePrompt'; maxLength: number })
  | (SpecBase & { kind: 'flag'; field: 'previews' });

/**
 * The longest prompt (and negative prompt) we take. Status messages repeat the prompt and must stay
 * within Telegram's 4096-character text and 1024-character caption limits (Discord: 2000); Discord's
 * slash option has the same ceiling. Past it the text encoder truncates anyway.
 */
export const MAX_PROMPT_CHARS = 1000;

const fixed = (limits: { min: number; max: number }) => () => limits;
/** A server's caps, never above FramePack's limits. */
const secondsRange = (caps: OptionCaps) => ({ min: OPTION_LIMITS.seconds.min, max: Math.min(caps.maxSeconds, OPTION_LIMITS.seconds.max) });
const stepsRange = (caps: OptionCaps) => ({ min: OPTION_LIMITS.steps.min, max: Math.min(caps.maxSteps, OPTION_LIMITS.steps.max) });
const rangeText = ({ min, max }: { min: number; max: number }) => `${min}–${max}`;

/** "original or f1"; "none, teacache, magcache". */
function wordList(values: readonly string[]): string {
  return values.length === 2 ? values.join(' or ') : values.join(', ');
}

/** Every option, in the order help texts list them. */
export const OPTION_SPECS: readonly OptionSpec[] = [
  {
    field: 'prompt', name: 'prompt', kind: 'text', maxLength: MAX_PROMPT_CHARS, label: 'prompt',
    help: () => 'How it should move (empty: a suggested or default motion prompt)', saved: 'a prompt goes with /animate',
  },
  {
    field: 'seconds', name: 'seconds', kind: 'number', unit: 's', label: 'seconds', example: 'seconds=5', saved: true,
    range: secondsRange,
    help: (caps) => `Video length in seconds, ${rangeText(secondsRange(caps))}`,
  },
  {
    field: 'seed', name: 'seed', kind: 'integer', label: 'seed', example: 'seed=42', range: fixed(OPTION_LIMITS.seed),
    words: { random: () => Math.floor(Math.random() * (OPTION_LIMITS.seed.max + 1)) },
    help: () => 'Random seed (default 31337, as in FramePack; seed=random picks one)',
    saved: 'a saved seed would repeat the same video',
  },
  {
    field: 'steps', name: 'steps', kind: 'integer', label: 'steps', example: 'steps=25', saved: true,
    range: stepsRange,
    help: (caps) => `Sampling steps per section, ${rangeText(stepsRange(caps))}`,
  },
  {
    field: 'cache', name: 'teacache', kind: 'switch', on: 'teacache', off: 'none', label: 'teacache', example: 'teacache=off', saved: true,
    help: () => 'TeaCache: faster, slightly worse hands and fingers (default on)',
  },
  {
    field: 'distilledCfg', name: 'cfg', aliases: ['distilled_cfg'], kind: 'number', label: 'cfg', example: 'cfg=10', saved: true,
    range: fixed(OPTION_LIMITS.distilledCfg),
    help: () => `Distilled CFG scale, ${OPTION_LIMITS.distilledCfg.min}–${OPTION_LIMITS.distilledCfg.max} (default 10)`,
  },
  {
    field: 'model', name: 'model', kind: 'choice', label: 'model', example: 'model=f1', saved: true,
    values: MODEL_VARIANTS, choices: (caps) => caps.models ?? MODEL_VARIANTS, display: { original: 'original', f1: 'F1' },
    unavailable: (value, caps) =>
      `This server's model set has no ${value === 'f1' ? 'F1' : value} transformer; use model=${(caps.models ?? MODEL_VARIANTS).join(' or model=')}.`,
    help: () => 'original (anti-drifting, default) or F1 (forward, more motion; needs the F1 transformer)',
  },
  {
    field: 'cache', name: 'cache', kind: 'choice', label: 'cache', example: 'cache=magcache', saved: true,
    values: CACHE_MODES, choices: () => CACHE_MODES, words: { off: 'none' }, display: { none: 'none', teacache: 'TeaCache', magcache: 'MagCache' },
    help: () => 'Skip transformer steps: none, TeaCache or MagCache (overrides teacache)',
  },
  {
    field: 'endFrameStrength', name: 'end_strength', kind: 'number', label: 'end_strength', example: 'end_strength=0.8', saved: true,
    range: fixed(OPTION_LIMITS.endFrameStrength),
    help: () => `End image influence, ${OPTION_LIMITS.endFrameStrength.min}–${OPTION_LIMITS.endFrameStrength.max} (default 1; only with an end image)`,
  },
  {
    field: 'crf', name: 'crf', kind: 'integer', label: 'crf', example: 'crf=20', saved: true, range: fixed(OPTION_LIMITS.crf),
    help: () => 'Video quality: H.264 CRF 0–51, lower is better and bigger (default 16, as in FramePack)',
  },
  { field: 'negativePrompt', kind: 'text', maxLength: MAX_PROMPT_CHARS, label: 'negative prompt', help: () => 'Used only with real CFG' },
  { field: 'cfg', kind: 'number', label: 'real cfg', range: fixed(OPTION_LIMITS.cfg), help: () => 'Real CFG scale, 1 = off' },
  { field: 'cfgRescale', kind: 'number', label: 'cfg rescale', range: fixed(OPTION_LIMITS.cfgRescale), help: () => 'CFG re-scale' },
  { field: 'windowSize', kind: 'integer', label: 'window size', range: fixed(OPTION_LIMITS.windowSize), help: () => 'Latent window size' },
  { field: 'previews', kind: 'flag', label: 'previews', help: () => 'Latent previews with each step' },
];

/** The options users type, by name and alias. */
const BY_NAME = new Map<string, OptionSpec>(
  OPTION_SPECS.flatMap((s) => (s.name ? [s.name, ...(s.aliases ?? [])].map((n) => [n, s] as const) : [])),
);

/** The options users can name, as specs (prompt included). */
export const NAMED_OPTIONS: readonly OptionSpec[] = OPTION_SPECS.filter((s) => s.name !== undefined);

/** The names of the options typed in chat text (the prompt is the text's other words). */
export const TEXT_OPTION_NAMES: readonly string[] = NAMED_OPTIONS.filter((s) => s.kind !== 'text').map((s) => s.name!);

export function optionSpec(name: string): OptionSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** The spec that range-checks a field (switches only set a field another spec owns). */
export function fieldSpec(field: keyof JobOptions): OptionSpec {
  const spec = OPTION_SPECS.find((s) => s.field === field && s.kind !== 'switch');
  if (!spec) throw new Error(`No option spec for ${field}.`);
  return spec;
}

const TRUE_WORDS = ['on', 'true', 'yes', '1'];
const FALSE_WORDS = ['off', 'false', 'no', '0'];

export function isSwitchWord(word: string | undefined): boolean {
  return word !== undefined && [...TRUE_WORDS, ...FALSE_WORDS].includes(word.toLowerCase());
}

/**
 * One named value, converted and checked: the fields it sets, or the sentence that says what is
 * wrong. A value out of range names the range the caps allow.
 */
export function readOption(spec: OptionSpec, raw: RawValue, caps: OptionCaps): Partial<JobOptions> | string {
  const label = spec.name ?? spec.label;
  switch (spec.kind) {
    case 'switch': {
      const on = typeof raw === 'boolean' ? raw : TRUE_WORDS.includes(String(raw).toLowerCase()) ? true : FALSE_WORDS.includes(String(raw).toLowerCase()) ? false : undefined;
      if (on === undefined) return `${label} must be on or off (got '${String(raw)}').`;
      return { [spec.field]: on ? spec.on : spec.off };
    }
    case 'flag':
      return typeof raw === 'boolean' ? { [spec.field]: raw } : `${label} must be on or off (got '${String(raw)}').`;
    case 'choice': {
      const word = String(raw).toLowerCase();
      const value = spec.words?.[word] ?? word;
      if (!spec.values.includes(value)) return `${label} must be ${wordList(spec.values)} (got '${String(raw)}').`;
      if (!spec.choices(caps).includes(value)) return spec.unavailable?.(value, caps) ?? `${label} must be ${spec.choices(caps).join(', ')} (got '${String(raw)}').`;
      return { [spec.field]: value };
    }
    case 'text': {
      const value = String(raw).trim();
      if (value.length > spec.maxLength) return `The ${spec.label} is ${value.length} characters; the limit is ${spec.maxLength}. Please shorten it.`;
      return { [spec.field]: value };
    }
    case 'integer':
    case 'number': {
      let value: number;
      if (typeof raw === 'number') value = raw;
      else {
        const word = String(raw).trim().toLowerCase();
        const special = spec.words?.[word];
        if (special) return { [spec.field]: special() };
        const cleaned = spec.unit && word.endsWith(spec.unit) ? word.slice(0, -spec.unit.length) : word;
        value = Number(cleaned);
        if (cleaned === '' || !Number.isFinite(value)) return `${label} must be a number (got '${String(raw)}').`;
      }
      const { min, max } = spec.range(caps);
      const integer = spec.kind === 'integer';
      if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
        return `${spec.label} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got ${String(value)}).`;
      }
      return { [spec.field]: value };
    }
  }
}

/** How a help text shows one option: "steps=1–20", "model=original|f1", "teacache=on|off". */
export function optionUsage(name: string, caps: OptionCaps): string {
  const spec = optionSpec(name);
  if (!spec) throw new Error(`Unknown option ${name}.`);
  switch (spec.kind) {
    case 'switch':
    case 'flag':
      return `${name}=on|off`;
    case 'choice':
      return `${name}=${spec.choices(caps).join('|')}`;
    case 'integer':
    case 'number': {
      const { min, max } = spec.range(caps);
      return max - min > 1000 && spec.example ? spec.example : `${name}=${min}–${max}`;
    }
    case 'text':
      return `${name}=…`;
  }
}
