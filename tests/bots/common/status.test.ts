import { describe, expect, it } from 'vitest';
import {
  describeSettings,
  END_FIRST_NOTE,
  formatDuration,
  formatEta,
  progressBar,
  renderJobStatus,
  START_FIRST_NOTE,
} from '../../../src/bots/common/status.ts';
import { defaultAnimateOptions } from '../../../src/engine/types.ts';

const options = defaultAnimateOptions({ prompt: 'The girl dances gracefully.', seed: 42, seconds: 5, steps: 25, teacache: true });

describe('status text', () => {
  it('draws a clamped progress bar with a percentage', () => {
    expect(progressBar(0.5, 10)).toBe('█████░░░░░ 50%');
    expect(progressBar(0, 4)).toBe('░░░░ 0%');
    expect(progressBar(1.7, 4)).toBe('████ 100%');
    expect(progressBar(Number.NaN, 4)).toBe('░░░░ 0%');
  });

  it('formats ETAs roughly and durations precisely', () => {
    expect(formatEta(null)).toBe('unknown');
    expect(formatEta(20_000)).toBe('less than a minute');
    expect(formatEta(110_000)).toBe('about 2 min');
    expect(formatEta(80 * 60_000)).toBe('about 1 h 20 min');
    expect(formatDuration(4_240)).toBe('4.2 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(182_000)).toBe('3 min 2 s');
    expect(formatDuration(3_840_000)).toBe('1 h 4 min');
  });

  it('describes the settings needed to reproduce a video', () => {
    expect(describeSettings(options)).toBe('Prompt: The girl dances gracefully.\nSettings: seed 42, 5 s, 25 steps, TeaCache on');
    expect(describeSettings({ ...options, teacache: false, distilledCfg: 12 })).toContain('TeaCache off, cfg 12');
  });

  it('renders a queued job with position and ETA', () => {
    const text = renderJobStatus({ jobSeq: 12, phase: 'queued', position: 3, etaMs: 120_000, options });
    expect(text.split('\n')[0]).toBe('Job #12 is queued (position 3, starts in about 2 min).');
    expect(text).toContain('seed 42');
    expect(renderJobStatus({ jobSeq: 13, phase: 'queued', position: 1, etaMs: null, options }).split('\n')[0]).toBe(
      'Job #13 is queued (next in line).',
    );
  });

  it('renders a running job with overall progress and the end-first note', () => {
    const text = renderJobStatus({
      jobSeq: 4,
      phase: 'running',
      stage: 'sampling',
      section: 2,
      sections: 4,
      step: 5,
      steps: 10,
      elapsedMs: 65_000,
      etaMs: 150_000,
      options,
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Job #4 is running (sampling): section 2/4, step 5/10.');
    expect(lines[1]).toBe(progressBar((1 + 0.5) / 4));
    expect(lines[2]).toBe('Elapsed 1 min 5 s, remaining about 3 min');
    expect(lines).toContain(END_FIRST_NOTE);
    expect(END_FIRST_NOTE).toMatch(/end of the video first/);
  });

  it('renders the finished states', () => {
    expect(renderJobStatus({ jobSeq: 1, phase: 'done', elapsedMs: 95_000, options })).toMatch(/^Job #1 is done in 1 min 35 s\./);
    expect(renderJobStatus({ jobSeq: 2, phase: 'failed', error: 'Out of memory.', options })).toMatch(/^Job #2 failed: Out of memory\./);
    expect(renderJobStatus({ jobSeq: 3, phase: 'cancelled', options })).toMatch(/^Job #3 was cancelled\./);
    expect(renderJobStatus({ jobSeq: 5, phase: 'resumed', position: 1, options })).toMatch(
      /^Job #5 was picked up again after a restart \(next in line\)\./,
    );
  });
});

describe('model and cache in the status', () => {
  it('names MagCache and F1, and says which end of the video comes first', () => {
    const base = { jobSeq: 3, phase: 'running' as const, section: 1, sections: 3, step: 1, steps: 5 };
    const f1 = renderJobStatus({ ...base, options: defaultAnimateOptions({ model: 'f1', cache: 'magcache', teacache: false }) });
    expect(f1).toContain('MagCache, model F1');
    expect(f1).toContain(START_FIRST_NOTE);
    expect(f1).not.toContain(END_FIRST_NOTE);
    const original = renderJobStatus({ ...base, options: defaultAnimateOptions() });
    expect(original).toContain('TeaCache on');
    expect(original).toContain(END_FIRST_NOTE);
  });
});
