// MagCache's rule without a model: its decisions depend only on the ratio table, the step count and
// the three parameters, so the golden traces can be replayed on the bookkeeping alone.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MagCache, selectMagRatios, type MagCacheFamily } from '../../../src/engine/sampler/index.ts';
import { forwardDirection, invertedDirection, HISTORY_SIZES } from '../../../src/engine/direction/index.ts';

const GOLDEN = 'tests/fixtures/golden/magcache';

describe('MagCache bookkeeping', () => {
  for (const folder of ['magcache', 'magcache_f1', 'magcache_thresh_0.01', 'magcache_thresh_0.05', 'magcache_thresh_0.2_skips_3_ret_0.2']) {
    it(`replays ${folder}'s skip decisions, and resets at the next section`, () => {
      const t = JSON.parse(readFileSync(`${GOLDEN}/${folder}/magcache_trace.json`, 'utf8')) as {
        model_family: MagCacheFamily; height: number; width: number; num_steps: number; threshold: number;
        max_consectutive_skips: number; retention_ratio: number; steps_skipped_list: number[];
      };
      const cache = new MagCache({
        family: t.model_family, height: t.height, width: t.width, numSteps: t.num_steps,
        threshold: t.threshold, maxConsecutiveSkips: t.max_consectutive_skips, retentionRatio: t.retention_ratio,
      });
      const section = () => Array.from({ length: t.num_steps }, () => cache.decideSkip());
      const first = section();
      expect(first.flatMap((s, i) => (s ? [i] : []))).toEqual(t.steps_skipped_list);
      expect(section()).toEqual(first); // step 0 of the next section resets the state
    });
  }

  it('selects tables like the reference: ties go to the larger resolution, 1 step takes the last ratio', () => {
    expect(selectMagRatios('Original', 128, 256, 25).resolution).toBe(256); // avg 192: tie 128/256
    expect(selectMagRatios('Original', 640, 768, 25).resolution).toBe(768); // avg 704: tie 640/768
    expect(selectMagRatios('F1', 48, 64, 1).indices).toEqual([24]);
    expect(selectMagRatios('Original', 640, 640, 17).indices.slice(0, 10)).toEqual([0, 2, 3, 4, 6, 8, 9, 10, 12, 14]);
  });
});

describe('sampling directions', () => {
  it('name the history split [1, 2, 16] and state which end comes first', () => {
    expect(HISTORY_SIZES).toEqual([1, 2, 16]);
    expect(invertedDirection.firstSectionMakes).toBe('end');
    expect(forwardDirection.firstSectionMakes).toBe('start');
  });

  it('forward refuses an end frame with a sentence', () => {
    const start = { data: new Float32Array(16 * 4), dims: [1, 16, 1, 2, 2] };
    expect(() => forwardDirection.initialHistory(start, { latent: start, strength: 1 })).toThrow(/end frame needs the original model/i);
  });
});
