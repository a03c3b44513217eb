// Positions and ETAs over several GPUs (scale-out): running jobs first, then fair order; each
// waiting job starts when the earliest GPU frees up; unknown estimates stay unknown.
import { describe, expect, it } from 'vitest';
import { placeJobs, type PlacedJob } from '../../src/queue/positions.ts';

const job = (id: string, round: number, seq: number, running: boolean, estimateMs: number | null): PlacedJob => ({ id, round, seq, running, estimateMs });

describe('placeJobs', () => {
  it('with one GPU, an ETA is the sum of everything ahead plus the job itself', () => {
    const out = placeJobs([job('b', 0, 2, false, 100), job('a', 0, 1, true, 30), job('c', 1, 3, false, 50)], 1);
    expect(Object.fromEntries(out)).toEqual({
      a: { position: 1, etaMs: 30 },
      b: { position: 2, etaMs: 130 },
      c: { position: 3, etaMs: 180 },
    });
  });

  it('with two GPUs, waiting jobs go to whichever GPU frees up first', () => {
    const out = placeJobs([job('a', 0, 1, true, 100), job('b', 0, 2, true, 20), job('c', 0, 3, false, 50), job('d', 1, 4, false, 50)], 2);
    expect(out.get('c')).toEqual({ position: 3, etaMs: 70 }); // after b (20) on its GPU
    expect(out.get('d')).toEqual({ position: 4, etaMs: 120 }); // a's GPU frees at 100, c's at 70 → 70 + 50
  });

  it('an idle GPU starts a waiting job now; unknown estimates make later ETAs unknown, not wrong', () => {
    expect(placeJobs([job('a', 0, 1, false, 40)], 3).get('a')).toEqual({ position: 1, etaMs: 40 });
    const out = placeJobs([job('a', 0, 1, true, null), job('b', 0, 2, false, 10)], 1);
    expect(out.get('b')).toEqual({ position: 2, etaMs: null });
  });
});
