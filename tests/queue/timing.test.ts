import { describe, expect, it } from 'vitest';
import { RunTimer, TimingStats, estimateRemainingMs, sectionsFor, timingKey, MAX_SAMPLES_PER_KEY } from '../../src/queue/timing.ts';
import sharp from 'sharp';
import { sizeKeyOf, UNKNOWN_SIZE } from '../../src/queue/size-key.ts';

describe('timing arithmetic', () => {
  it('counts sections like FramePack (Python rounding, at least one)', () => {
    expect(sectionsFor({ seconds: 5, windowSize: 9 })).toBe(4); // 4.17
    expect(sectionsFor({ seconds: 3, windowSize: 9 })).toBe(2); // 2.5 → 2 (half to even)
    expect(sectionsFor({ seconds: 4.2, windowSize: 9 })).toBe(4); // 3.5 → 4
    expect(sectionsFor({ seconds: 1, windowSize: 9 })).toBe(1);
    expect(sectionsFor({ seconds: 120, windowSize: 9 })).toBe(100);
  });

  it('keys by bucket, steps and TeaCache; buckets like find_nearest_bucket', async () => {
    expect(timingKey('640x608', { steps: 25, cache: 'teacache', model: 'original' })).toBe('640x608|steps=25|teacache=on');
    const png = (width: number, height: number) =>
      sharp({ create: { width, height, channels: 3, background: '#336699' } }).png().toBuffer();
    expect(await sizeKeyOf(await png(1920, 1080))).toBe('832x480');
    // Ties go to the last bucket, as the reference's `<=`: a square image is 608 wide, 640 high.
    expect(await sizeKeyOf(await png(1000, 1000))).toBe('608x640');
    expect(await sizeKeyOf(await png(480, 960))).toBe('448x864');
    expect(await sizeKeyOf(Buffer.from('not an image'))).toBe(UNKNOWN_SIZE);
  });

  it('measures setup, per-step and per-section time from events and averages recent runs', () => {
    const timer = new RunTimer(1_000);
    // setup 400, then per section: 2 steps of 100 ms and 50 ms of decode.
    timer.observe({ type: 'step', section: 1, sections: 2, step: 1, steps: 2, elapsedMs: 100, stepMs: 100 }, 1_500);
    timer.observe({ type: 'step', section: 1, sections: 2, step: 2, steps: 2, elapsedMs: 200, stepMs: 100 }, 1_600);
    timer.observe({ type: 'section', section: 1, sections: 2, videoPath: 'a', shows: 'whole', frames: 33, seconds: 1.1 }, 1_650);
    timer.observe({ type: 'step', section: 2, sections: 2, step: 1, steps: 2, elapsedMs: 370, stepMs: 120 }, 1_770);
    timer.observe({ type: 'step', section: 2, sections: 2, step: 2, steps: 2, elapsedMs: 450, stepMs: 80 }, 1_850);
    timer.observe({ type: 'section', section: 2, sections: 2, videoPath: 'b', shows: 'whole', frames: 66, seconds: 2.2 }, 1_900);
    const sample = timer.finish(1_930)!;
    expect(sample).toEqual({ stepMs: 100, sectionOverheadMs: 50, setupMs: 430, sections: 2, at: 1_930 });

    const stats = new TimingStats();
    expect(stats.estimate('k')).toBeNull();
    stats.record('k', sample);
    stats.record('k', { ...sample, stepMs: 200 });
    expect(stats.estimate('k')?.stepMs).toBe(150);
    for (let i = 0; i < MAX_SAMPLES_PER_KEY; i++) stats.record('k', { ...sample, stepMs: 10 });
    expect(stats.estimate('k')?.stepMs).toBe(10); // only the recent ones count
    expect(new TimingStats(stats.toJSON()).estimate('k')).toEqual(stats.estimate('k'));
    expect(estimateRemainingMs(stats.estimate('k')!, 2, 2, { section: 2, sections: 2, step: 1, steps: 2 }, 0)).toBe(10 + 50);
  });

  it('has no sample for a run without steps', () => {
    expect(new RunTimer(0).finish(10)).toBeNull();
  });
});
