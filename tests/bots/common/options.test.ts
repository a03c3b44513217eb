import { describe, expect, it } from 'vitest';
import { parseAnimateText } from '../../../src/bots/common/options.ts';
import { MAX_PROMPT_CHARS, type OptionCaps } from '../../../src/options/fields.ts';
import { jobOptions } from '../../../src/options/job-options.ts';
import { resolveJobOptions } from '../../../src/options/resolve.ts';

const caps: OptionCaps = { maxSeconds: 60, maxSteps: 50 };

describe('parseAnimateText', () => {
  it('reads key=value options anywhere and keeps the rest as the prompt', () => {
    const r = parseAnimateText('The girl seconds=10 dances seed=42 gracefully steps=30 teacache=off cfg=12.5', caps);
    expect(r.errors).toEqual([]);
    expect(r.prompt).toBe('The girl dances gracefully');
    expect(r.options).toMatchObject({
      prompt: 'The girl dances gracefully',
      seconds: 10,
      seed: 42,
      steps: 30,
      cache: 'none',
      distilledCfg: 12.5,
    });
  });

  it('reads --name value and --name=value flags, and a bare --teacache', () => {
    const r = parseAnimateText('--seconds 8 The robot jumps --seed=7 --teacache --steps 20', caps, { cache: 'none' });
    expect(r.errors).toEqual([]);
    expect(r.prompt).toBe('The robot jumps');
    expect(r.options).toMatchObject({ seconds: 8, seed: 7, cache: 'teacache', steps: 20 });
    expect(r.named).toEqual(new Set(['seconds', 'seed', 'teacache', 'steps']));
    expect(parseAnimateText('--teacache off the cat runs', caps).options.cache).toBe('none');
    expect(parseAnimateText('--teacache off the cat runs', caps).prompt).toBe('the cat runs');
  });

  it('accepts a seconds unit, case-insensitive names and boolean words', () => {
    const r = parseAnimateText('SECONDS=4s TeaCache=No walk', caps);
    expect(r.errors).toEqual([]);
    expect(r.options).toMatchObject({ seconds: 4, cache: 'none' });
  });

  it('reports unknown options with the list of known ones', () => {
    const r = parseAnimateText('sped=3 the man dances --colour red', caps);
    expect(r.errors).toEqual([
      "Unknown option 'sped'. Known: seconds, seed, steps, teacache, cfg, model, cache, end_strength, crf.",
      "Unknown option 'colour'. Known: seconds, seed, steps, teacache, cfg, model, cache, end_strength, crf.",
    ]);
    expect(r.prompt).toBe('the man dances');
  });

  it('reports out-of-range values with the range, and keeps the base value', () => {
    const r = parseAnimateText('dance seconds=500 steps=0 seed=-1 cfg=40', caps, { seconds: 6 });
    expect(r.errors).toEqual([
      'seconds must be a number from 1 to 60 (got 500).',
      'steps must be a whole number from 1 to 50 (got 0).',
      'seed must be a whole number from 0 to 4294967295 (got -1).',
      'cfg must be a number from 1 to 32 (got 40).',
    ]);
    expect(r.options.seconds).toBe(6);
    expect(r.options.steps).toBe(jobOptions().steps);
  });

  it('reports values of the wrong kind and missing values', () => {
    const r = parseAnimateText('steps=many teacache=maybe jump --seed', caps);
    expect(r.errors).toEqual([
      "steps must be a number (got 'many').",
      "teacache must be on or off (got 'maybe').",
      "Option 'seed' needs a value, for example seed=42.",
    ]);
  });

  it('refuses a prompt over MAX_PROMPT_CHARS with a sentence and takes one at the cap', () => {
    expect(MAX_PROMPT_CHARS).toBe(1000);
    const long = parseAnimateText(`${'wave '.repeat(800)}seed=3`, caps, { prompt: 'from base' });
    expect(long.errors).toEqual(['The prompt is 3999 characters; the limit is 1000. Please shorten it.']);
    expect(long.options.prompt).toBe('from base');
    const atCap = parseAnimateText('a'.repeat(MAX_PROMPT_CHARS), caps);
    expect(atCap.errors).toEqual([]);
    expect(atCap.options.prompt).toHaveLength(MAX_PROMPT_CHARS);
    expect(resolveJobOptions({ negativePrompt: 'x'.repeat(1001) }, caps).errors).toEqual([
      'The negative prompt is 1001 characters; the limit is 1000. Please shorten it.',
    ]);
  });

  it('leaves links and ordinary punctuation in the prompt alone', () => {
    const r = parseAnimateText('The man dances -- wildly, see https://example.com/?a=b', caps);
    expect(r.errors).toEqual([]);
    expect(r.prompt).toBe('The man dances -- wildly, see https://example.com/?a=b');
  });

  it('gives an empty prompt when only options were typed, keeping base settings', () => {
    const r = parseAnimateText('  seed=random  ', caps, { steps: 12, prompt: 'from base' });
    expect(r.prompt).toBe('');
    expect(r.options.prompt).toBe('from base');
    expect(r.options.steps).toBe(12);
    expect(Number.isInteger(r.options.seed)).toBe(true);
    expect(r.errors).toEqual([]);
  });
});

describe('model, cache and end-frame options', () => {
  it('reads model, cache and end_strength into the one cache field; cache= wins over teacache= wherever each stands', () => {
    const r = parseAnimateText('a cat model=f1 cache=magcache end_strength=0.5', caps);
    expect(r.errors).toEqual([]);
    expect(r.options).toMatchObject({ prompt: 'a cat', model: 'f1', cache: 'magcache', endFrameStrength: 0.5 });
    expect(r.options).not.toHaveProperty('teacache');
    expect(parseAnimateText('--cache off', caps).options.cache).toBe('none');
    expect(parseAnimateText('teacache=off', caps, { cache: 'magcache' }).options.cache).toBe('none');
    expect(parseAnimateText('cache=magcache teacache=off', caps).options.cache).toBe('magcache');
    expect(parseAnimateText('teacache=off cache=magcache', caps).options.cache).toBe('magcache');
    expect(parseAnimateText('--end-strength 0.4 --distilled-cfg 8', caps).options).toMatchObject({ endFrameStrength: 0.4, distilledCfg: 8 });
  });

  it('reads crf (video quality), the option added after the table existed', () => {
    expect(parseAnimateText('waves crf=22', caps).options.crf).toBe(22);
    expect(parseAnimateText('waves --crf 0', caps).options.crf).toBe(0);
    expect(parseAnimateText('waves crf=60', caps).errors).toEqual(['crf must be a whole number from 0 to 51 (got 60).']);
  });

  it('answers bad values with sentences', () => {
    expect(parseAnimateText('model=f2 cache=fast end_strength=0', caps).errors).toEqual([
      "model must be original or f1 (got 'f2').",
      "cache must be none, teacache, magcache (got 'fast').",
      'end_strength must be a number from 0.05 to 1 (got 0).',
    ]);
    expect(parseAnimateText('model=f1', { ...caps, models: ['original'] }).errors).toEqual([
      "This server's model set has no F1 transformer; use model=original.",
    ]);
  });
});

describe('caps apply to the merged job, not only to typed values', () => {
  const caps = { maxSeconds: 30, maxSteps: 20 };

  it('a server default or saved setting above the cap is fitted to it', () => {
    // The reproduction: DEFAULT_SECONDS / saved /settings above a lowered MAX_SECONDS.
    const r = parseAnimateText('waves', caps, { seconds: 60, steps: 50 });
    expect(r.errors).toEqual([]);
    expect(r.options.seconds).toBe(30);
    expect(r.options.steps).toBe(20);
  });

  it('an out-of-range typed value is refused and the (capped) base is kept', () => {
    const r = parseAnimateText('waves seconds=45', caps, { seconds: 60 });
    expect(r.errors.join(' ')).toMatch(/seconds must be a number from 1 to 30/);
    expect(r.options.seconds).toBe(30);
  });

  it('a re-rolled job whose model the set no longer holds falls back to one it holds', () => {
    const { options, errors } = resolveJobOptions({}, { ...caps, models: ['original'] }, { model: 'f1', seconds: 5 });
    expect(errors).toEqual([]);
    expect(options.model).toBe('original');
    expect(options.seconds).toBe(5);
  });
});
