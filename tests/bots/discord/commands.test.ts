// /animate's registered options: end_image and cache always, model only when the set has F1.
import { describe, expect, it } from 'vitest';
import { buildCommands } from '../../../src/bots/discord/commands.ts';

const caps = { maxSeconds: 60, maxSteps: 50, defaultSeconds: 5, defaultSteps: 25, allowDms: false };
const animateOptions = (models?: string[]) => {
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
});
