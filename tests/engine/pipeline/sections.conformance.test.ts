// The section loop (sampling directions, end frame) and MagCache against the PyTorch references:
// tests/fixtures/golden/{sections_f1, sections_endframe, magcache}, at the READMEs' tolerances.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conformanceHandlers } from '../../../src/conformance/handlers.ts';
import { endframeSectionsConformance, f1SectionsConformance } from '../../../src/conformance/sections.ts';
import { magcacheConformance } from '../../../src/conformance/magcache.ts';
import type { ConformanceHandler } from '../../../src/conformance/types.ts';

const GOLDEN = join(import.meta.dirname, '../../fixtures/golden');

function expectAllPass(lines: Awaited<ReturnType<ConformanceHandler['run']>>): void {
  const failed = lines.filter((l) => !l.pass).map((l) => `${l.name}: ${l.maxAbs} > ${l.atol} ${l.note ?? ''}`);
  expect(failed).toEqual([]);
}

describe('section-loop and MagCache conformance handlers', () => {
  it('are registered and each detects only its own set', async () => {
    const handlers = [f1SectionsConformance, endframeSectionsConformance, magcacheConformance];
    for (const h of handlers) expect(conformanceHandlers).toContain(h);
    const sets = ['sections_f1', 'sections_endframe', 'magcache', 'sampler', 'functions'];
    const detected = await Promise.all(handlers.map(async (h) => (await Promise.all(sets.map((s) => h.detect(join(GOLDEN, s))))).map(Boolean)));
    expect(detected).toEqual([
      [true, false, false, false, false],
      [false, true, false, false, false],
      [false, false, true, false, false],
    ]);
  });

  it('F1 (forward): indices, section-count table, frame counts exact; latents within 3e-4', async () => {
    const lines = await f1SectionsConformance.run(join(GOLDEN, 'sections_f1'));
    expectAllPass(lines);
    expect(lines.find((l) => l.name.startsWith('section_count_table'))?.name).toContain('144 cases');
    for (const k of [0, 1, 2]) {
      expect(lines.find((l) => l.name === `f1.s${k}.generated_latents`)!.maxAbs).toBeLessThanOrEqual(3e-4);
      expect(lines.find((l) => l.name.startsWith(`f1.s${k}.frame counts`))!.atol).toBe(0);
    }
    expect(lines.some((l) => l.name === 'f1.out.real_history_latents')).toBe(true);
  });

  it('end frame (original model): the scaled end latent is exact, both runs within 3e-4', async () => {
    const lines = await endframeSectionsConformance.run(join(GOLDEN, 'sections_endframe'));
    expectAllPass(lines);
    const exact = lines.find((l) => l.name.startsWith('endframe.s0.clean_latents[:, :, 1]'))!;
    expect(exact.atol).toBe(0);
    expect(lines.filter((l) => /^(endframe|control)\.s\d\.generated_latents$/.test(l.name))).toHaveLength(6);
  });

  it('MagCache: ratio-table selection (288 cases) and skip decisions exact, latents and block streams within 2e-4', async () => {
    const lines = await magcacheConformance.run(join(GOLDEN, 'magcache'));
    expectAllPass(lines);
    const skipped = lines.filter((l) => l.name.endsWith('.steps_skipped_list')).map((l) => l.name.replace(/\.steps_skipped_list$/, '')).sort();
    expect(skipped).toEqual(['magcache', 'magcache_f1', 'magcache_thresh_0.01', 'magcache_thresh_0.05', 'magcache_thresh_0.2_skips_3_ret_0.2']);
    expect(lines.filter((l) => l.name.includes('.dbg.block_output.'))).toHaveLength(8);
    expect(lines.some((l) => l.name === 'plain.out.latents')).toBe(true);
  });
});
