// The one option model: resolving typed values over a base, the caps on the merged result, the
// combination rules, the table's named values, and records written by earlier versions.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_JOB_OPTIONS, jobOptions, storedJobOptions, upgradeStoredOptions,
} from '../../src/options/job-options.ts';
import { FRAMEPACK_CAPS, NAMED_OPTIONS, OPTION_SPECS, fieldSpec, optionUsage, type OptionCaps } from '../../src/options/fields.ts';
import { readNamedValues, resolveJobOptions } from '../../src/options/resolve.ts';
import { COMBINATION_RULES, END_IMAGE_NEEDS_ORIGINAL, combinationErrors } from '../../src/options/rules.ts';

const caps: OptionCaps = { maxSeconds: 60, maxSteps: 50 };

describe('resolveJobOptions', () => {
  it('merges valid typed options over the base and the defaults', () => {
    const r = resolveJobOptions({ seconds: 3.5, steps: 10, cache: 'none' }, caps, { seed: 9 });
    expect(r.errors).toEqual([]);
    expect(r.options).toEqual(jobOptions({ seed: 9, seconds: 3.5, steps: 10, cache: 'none' }));
  });

  it('applies the server caps, never above FramePack limits', () => {
    expect(resolveJobOptions({ seconds: 61 }, caps).errors).toEqual(['seconds must be a number from 1 to 60 (got 61).']);
    expect(resolveJobOptions({ seconds: 120 }, { maxSeconds: 500, maxSteps: 500 }).errors).toEqual([]);
    expect(resolveJobOptions({ steps: 101 }, { maxSeconds: 500, maxSteps: 500 }).errors).toEqual([
      'steps must be a whole number from 1 to 100 (got 101).',
    ]);
    expect(resolveJobOptions({ steps: 2.5 }, caps).errors).toEqual(['steps must be a whole number from 1 to 50 (got 2.5).']);
  });

  it('checks every field, the ones users cannot type too (the engine guards with it)', () => {
    const bad = { ...DEFAULT_JOB_OPTIONS, windowSize: 0, crf: 52, cfgRescale: 2, cfg: 0.5, cache: 'fast' as never, model: 'f2' as never };
    expect(resolveJobOptions(bad, FRAMEPACK_CAPS).errors).toEqual([
      "cache must be none, teacache, magcache (got 'fast').",
      "model must be original or f1 (got 'f2').",
      'real cfg must be a number from 1 to 32 (got 0.5).',
      'cfg rescale must be a number from 0 to 1 (got 2).',
      'window size must be a whole number from 1 to 33 (got 0).',
      'crf must be a whole number from 0 to 51 (got 52).',
    ]);
    expect(resolveJobOptions(DEFAULT_JOB_OPTIONS, FRAMEPACK_CAPS).errors).toEqual([]);
  });

  it('fits the merged result to the caps: a default or saved setting above a lowered cap, a model the set lost', () => {
    // Issue 21's reproduction: DEFAULT_SECONDS / saved /settings above MAX_SECONDS passed unchecked.
    const fitted = resolveJobOptions({}, { maxSeconds: 30, maxSteps: 20, models: ['original'] }, { seconds: 60, steps: 50, model: 'f1', endFrameStrength: 3 });
    expect(fitted.errors).toEqual([]);
    expect(fitted.options).toMatchObject({ seconds: 30, steps: 20, model: 'original', endFrameStrength: 1 });
  });

  it('refuses a model the set does not hold, by name', () => {
    expect(resolveJobOptions({ model: 'f1' }, { ...caps, models: ['original'] }).errors).toEqual([
      "This server's model set has no F1 transformer; use model=original.",
    ]);
  });
});

describe('readNamedValues', () => {
  it('reads the table by name and alias, in the table order, the last repeat winning', () => {
    const r = readNamedValues([['cache', 'magcache'], ['teacache', 'off'], ['distilled_cfg', '8'], ['seconds', 3], ['seconds', '4s']], caps);
    expect(r.errors).toEqual([]);
    expect(r.typed).toEqual({ cache: 'magcache', distilledCfg: 8, seconds: 4 });
    expect(r.named).toEqual(new Set(['cache', 'teacache', 'cfg', 'seconds']));
  });

  it('takes Discord-typed booleans and numbers as they come', () => {
    expect(readNamedValues([['teacache', false], ['steps', 12]], caps).typed).toEqual({ cache: 'none', steps: 12 });
  });

  it('names unknown options and missing values', () => {
    expect(readNamedValues([['sped', '3'], ['seed', undefined]], caps).errors).toEqual([
      "Unknown option 'sped'. Known: seconds, seed, steps, teacache, cfg, model, cache, end_strength, crf.",
      "Option 'seed' needs a value, for example seed=42.",
    ]);
  });
});

describe('the option table', () => {
  it('has one range-checking spec per field and a name, example and help for every typed option', () => {
    for (const field of Object.keys(DEFAULT_JOB_OPTIONS) as Array<keyof typeof DEFAULT_JOB_OPTIONS>) expect(fieldSpec(field).field).toBe(field);
    for (const spec of NAMED_OPTIONS) {
      expect(spec.help(caps).length).toBeLessThanOrEqual(100); // Discord's description limit
      if (spec.kind !== 'text') expect(spec.example, spec.name).toMatch(new RegExp(`^${spec.name}=`));
      expect(spec.saved, spec.name).toBeDefined();
    }
    expect(OPTION_SPECS.filter((s) => s.name === undefined).every((s) => s.saved === undefined)).toBe(true);
  });

  it('shows each option as the caps allow it', () => {
    expect(optionUsage('steps', { maxSeconds: 30, maxSteps: 20 })).toBe('steps=1–20');
    expect(optionUsage('model', { ...caps, models: ['original'] })).toBe('model=original');
    expect(optionUsage('teacache', caps)).toBe('teacache=on|off');
    expect(optionUsage('seed', caps)).toBe('seed=42');
  });
});

describe('combination rules', () => {
  it('refuses an end image with F1 in one sentence', () => {
    const f1 = jobOptions({ model: 'f1' });
    expect(combinationErrors(f1, { endImage: true })).toEqual([END_IMAGE_NEEDS_ORIGINAL]);
    expect(combinationErrors(f1, { endImage: false })).toEqual([]);
    expect(combinationErrors(jobOptions(), { endImage: true })).toEqual([]);
    expect(new Set(COMBINATION_RULES.map((r) => r.sentence)).size).toBe(COMBINATION_RULES.length);
  });
});

describe('stored options from earlier versions', () => {
  it('reads the teacache flag as a cache mode once, and completes a record with today’s defaults', () => {
    expect(upgradeStoredOptions({ teacache: true })).toEqual({ cache: 'teacache' });
    expect(upgradeStoredOptions({ teacache: false, seconds: 3 })).toEqual({ cache: 'none', seconds: 3 });
    expect(upgradeStoredOptions({ teacache: false, cache: 'magcache' })).toEqual({ cache: 'magcache' });
    expect(upgradeStoredOptions({ steps: 9, unknown: 1 })).toEqual({ steps: 9 });
    const old = { prompt: 'p', negativePrompt: '', seed: 1, seconds: 2, steps: 3, teacache: false, distilledCfg: 10, cfg: 1, cfgRescale: 0, windowSize: 9, crf: 16, previews: true };
    const upgraded = storedJobOptions(old);
    expect(upgraded).toEqual(jobOptions({ prompt: 'p', seed: 1, seconds: 2, steps: 3, cache: 'none' }));
    expect(upgraded).not.toHaveProperty('teacache');
  });
});
