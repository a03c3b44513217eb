// /animate's registered options: end_image and cache always, model only when the set has F1.
import { describe, expect, it } from 'vitest';
import { buildCommands } from '../../../src/bots/discord/commands.ts';
import type { ModelVariant } from '../../../src/options/job-options.ts';
import { NAMED_OPTIONS } from '../../../src/options/fields.ts';

const caps = { maxSeconds: 60, maxSteps: 50, defaults: { seconds: 5, steps: 25 }, allowDms: false };
const animateOptions = (models?: ModelVariant[]) => {
  const animate = buildCommands({ ...caps, ...(models ? { models } : {}) }).find((c) => c.name === 'animate') as { options: Array<{ name: string; choices?: Array<{ value: string }> }> };
  return animate.options;
};

describe('/animate options', () => {
  it('offers end_image and cache, and model only when the set holds F1', () => {
    const withF1 = animateOptions(['original', 'f1']);
    expect(withF1.map((o) => o.name)).toEqual(expect.arrayContaining(['end_image', 'cache', 'model']));
    expect(withF1.find((o) => o.name === 'cache')!.choices!.map((c) => c.value)).toEqual(['none', 'teacache', 'magcache']);
    expect(withF1.find((o) => o.name === 'model')!.choices!.map((c) => c.value)).toEqual(['original', 'f1']);
    expect(animateOptions(['original']).map((o) => o.name)).not.toContain('model');
    expect(animateOptions().map((o) => o.name)).toContain('model'); // unknown set: offered, the engine refuses with a sentence
  });

  it('registers every option of the option table, with the caps as ranges and the server defaults named', () => {
    const options = animateOptions(['original', 'f1']) as unknown as Array<{ name: string; description: string; min_value?: number; max_value?: number; required?: boolean }>;
    expect(options.map((o) => o.name)).toEqual(['image', 'end_image', ...NAMED_OPTIONS.map((s) => s.name)]);
    expect(options.filter((o) => o.required).map((o) => o.name)).toEqual(['image']);
    const seconds = options.find((o) => o.name === 'seconds')!;
    expect([seconds.min_value, seconds.max_value]).toEqual([1, 60]);
    expect(seconds.description).toBe('Video length in seconds, 1–60, default 5');
    expect(options.find((o) => o.name === 'end_strength')!.max_value).toBe(1);
    for (const o of options) expect(o.description.length).toBeLessThanOrEqual(100);
  });
});
