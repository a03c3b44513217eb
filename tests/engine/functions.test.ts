import { describe, expect, it } from 'vitest';
import { runFunctionsConformance } from '../../src/conformance/functions.ts';
import { roundHalfEven, totalLatentSections, framesAfterSections, planSections } from '../../src/engine/functions/index.ts';

const GOLDEN = 'tests/fixtures/golden/functions';

describe('FramePack functions conformance (golden/functions)', () => {
  it('matches every golden case', async () => {
    const lines = await runFunctionsConformance(GOLDEN);
    const failed = lines.filter((l) => !l.pass);
    expect(failed, JSON.stringify(failed.slice(0, 5), null, 1)).toEqual([]);
    // Every kind of case was checked, not just some.
    for (const prefix of ['flux[', 'latent_paddings[', 'find_nearest_bucket[', 'crop_or_pad[', 'soft_append.', 'vae_decode_fake', 'mp4_uint8.']) {
      expect(lines.some((l) => l.name.startsWith(prefix)), prefix).toBe(true);
    }
  });

  it('rounds halves to even like Python', () => {
    expect([0.5, 1.5, 2.5, 3.5, -2.5, 2.4999, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 4, -2, 2, 3]);
    expect(totalLatentSections(3, 9)).toBe(2); // 90/36 = 2.5 → 2
  });

  it('counts frames as latents·4 − 3', () => {
    const plans = planSections(2, 9); // two sections: 9 then 10 latents
    expect(framesAfterSections(plans, 9, 1)).toBe(33);
    expect(framesAfterSections(plans, 9, 2)).toBe(73);
  });
});
