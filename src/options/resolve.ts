// From what a user gave (typed words, Discord's typed values, CLI flags) and what the job starts
// from (the server's defaults, saved /settings, a re-rolled job) to one runnable option set. Typed
// values are checked and refused with a sentence; the caps then hold for the merged result, so a
// default or a saved setting that predates a lowered cap is fitted, not passed through.
import { jobOptions, type JobOptions } from './job-options.ts';
import { OPTION_SPECS, TEXT_OPTION_NAMES, fieldSpec, optionSpec, readOption, type OptionCaps, type OptionSpec, type RawValue } from './fields.ts';

export interface ResolvedOptions {
  options: JobOptions;
  /** One sentence per refused value; the refused fields keep their base value. */
  errors: string[];
}

/** Checks the typed fields and merges them over `base` (and the defaults), then fits the result to the caps. */
export function resolveJobOptions(typed: Partial<JobOptions>, caps: OptionCaps, base: Partial<JobOptions> = {}): ResolvedOptions {
  const accepted: Partial<JobOptions> = {};
  const errors: string[] = [];
  for (const [field, value] of Object.entries(typed) as Array<[keyof JobOptions, JobOptions[keyof JobOptions] | undefined]>) {
    if (value === undefined) continue;
    const read = readOption(fieldSpec(field), value, caps);
    if (typeof read === 'string') errors.push(read);
    else Object.assign(accepted, read);
  }
  const options = jobOptions({ ...base, ...accepted });
  fitToCaps(options, caps);
  return { options, errors };
}

export interface NamedValues {
  /** The fields the named values set. */
  typed: Partial<JobOptions>;
  /** The options that were named (by their main name), e.g. for /settings. */
  named: Set<string>;
  errors: string[];
}

/**
 * Named raw values ("seconds" → "8", Discord's "teacache" → false) read through the table: unknown
 * names and missing values are refused by name. Values apply in the table's order, not the typed
 * one, so `cache=` beats `teacache=` wherever each stands; a repeated option keeps its last value.
 */
export function readNamedValues(values: ReadonlyArray<readonly [name: string, value: RawValue | undefined]>, caps: OptionCaps): NamedValues {
  // Sentences come back in the order the user wrote the options; values apply in the table's.
  const errors: Array<{ at: number; sentence: string }> = [];
  const given = new Map<OptionSpec, { at: number; value: RawValue }>();
  values.forEach(([name, value], at) => {
    const spec = optionSpec(name);
    if (!spec) errors.push({ at, sentence: `Unknown option '${name}'. Known: ${TEXT_OPTION_NAMES.join(', ')}.` });
    else if (value === undefined || value === '') errors.push({ at, sentence: `Option '${spec.name}' needs a value, for example ${spec.example ?? `${spec.name}=…`}.` });
    else {
      given.delete(spec);
      given.set(spec, { at, value });
    }
  });
  const typed: Partial<JobOptions> = {};
  const named = new Set<string>();
  for (const spec of OPTION_SPECS) {
    const entry = given.get(spec);
    if (!entry) continue;
    named.add(spec.name!);
    const read = readOption(spec, entry.value, caps);
    if (typeof read === 'string') errors.push({ at: entry.at, sentence: read });
    else Object.assign(typed, read);
  }
  return { typed, named, errors: errors.sort((a, b) => a.at - b.at).map((e) => e.sentence) };
}

/**
 * Named raw values read through the table and resolved over `base`, every sentence kept: the one
 * path of chat text, Discord's typed options and the CLI's flags. `also` holds fields that came
 * without a name (the prompt in chat text).
 */
export function resolveNamedValues(
  values: ReadonlyArray<readonly [name: string, value: RawValue | undefined]>, caps: OptionCaps, base: Partial<JobOptions> = {}, also: Partial<JobOptions> = {},
): ResolvedOptions & { named: Set<string> } {
  const read = readNamedValues(values, caps);
  const resolved = resolveJobOptions({ ...read.typed, ...also }, caps, base);
  return { options: resolved.options, named: read.named, errors: [...read.errors, ...resolved.errors] };
}

/** Numbers into their range, choices among those the caps allow (the first one otherwise). */
function fitToCaps(options: JobOptions, caps: OptionCaps): void {
  const o = options as unknown as Record<string, unknown>;
  for (const spec of OPTION_SPECS) {
    if (spec.kind === 'integer' || spec.kind === 'number') {
      const { min, max } = spec.range(caps);
      o[spec.field] = Math.min(Math.max(options[spec.field], min), max);
    } else if (spec.kind === 'choice') {
      const allowed = spec.choices(caps);
      if (!allowed.includes(options[spec.field]) && allowed[0] !== undefined) o[spec.field] = allowed[0];
    }
  }
}
