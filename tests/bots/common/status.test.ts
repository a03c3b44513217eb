import { describe, expect, it } from 'vitest';
import {
  describePosition,
  describeSettings,
  END_FIRST_NOTE,
  formatDuration,
  formatEta,
  formatSeconds,
  initialStatus,
  progressBar,
  reduceStatus,
  renderJobStatus,
  START_FIRST_NOTE,
  type StatusState,
} from '../../../src/bots/common/status.ts';
import type { EngineEvent } from '../../../src/engine/types.ts';
import { jobOptions } from '../../../src/options/job-options.ts';
import type { JobRecord, QueueEvent } from '../../../src/queue/types.ts';

const options = jobOptions({ prompt: 'The girl dances gracefully.', seed: 42, seconds: 5, steps: 25, cache: 'teacache' });

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
    expect(describeSettings({ ...options, cache: 'none', distilledCfg: 12 })).toContain('TeaCache off, cfg 12');
  });

  it('names the end image and its strength; an end_strength without an end image is said to do nothing', () => {
    const withEnd = initialStatus({ seq: 3, options: { ...options, endFrameStrength: 0.5 }, endImagePath: '/data/jobs/x/end.png' });
    expect(renderJobStatus(withEnd)).toContain('TeaCache on, end image (strength 0.5)');
    expect(renderJobStatus(initialStatus({ seq: 4, options, endImagePath: '/e.png' }))).toContain('end image (strength 1)');
    const without = initialStatus({ seq: 5, options: { ...options, endFrameStrength: 0.5 } });
    expect(renderJobStatus(without)).toContain('end_strength 0.5 has no effect without an end image');
    expect(describeSettings(options)).not.toMatch(/end/);
  });

  it('describes a queue position with the time the video is ready, leaving out an unknown estimate', () => {
    expect(describePosition(3, 120_000)).toBe('position 3, ready in about 2 min');
    expect(describePosition(1, 10_000)).toBe('next in line, ready in less than a minute');
    expect(describePosition(2, null)).toBe('position 2');
    expect(describePosition(2, Number.NaN)).toBe('position 2');
  });

  it('renders a queued job with position and ETA', () => {
    const text = renderJobStatus({ jobSeq: 12, phase: 'queued', position: 3, etaMs: 120_000, options });
    expect(text.split('\n')[0]).toBe('Job #12 is queued (position 3, ready in about 2 min).');
    expect(text).not.toMatch(/starts in/);
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
    expect(lines[0]).toBe('Job #4 is sampling section 2/4, step 5/10.');
    // No timings yet: each section's decode and write weigh as much as its sampling (1 + 0.5 of 2 × 4).
    expect(lines[1]).toBe(progressBar((2 + 0.5) / 8));
    expect(lines[2]).toBe('Elapsed 1 min 5 s, ready in about 3 min');
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
    const f1 = renderJobStatus({ ...base, options: jobOptions({ model: 'f1', cache: 'magcache' }) });
    expect(f1).toContain('MagCache, model F1');
    expect(f1).toContain(START_FIRST_NOTE);
    expect(f1).not.toContain(END_FIRST_NOTE);
    const original = renderJobStatus({ ...base, options: jobOptions() });
    expect(original).toContain('TeaCache on');
    expect(original).toContain(END_FIRST_NOTE);
  });
});

describe('status reducer (queue event → status state, shared by both bots)', () => {
  const T0 = 1_700_000_000_000;
  const job = (patch: Partial<JobRecord> = {}): JobRecord => ({
    id: 'j1', seq: 7, platform: 'telegram', userId: 'u', reply: {}, imagePath: '/x', workDir: '/w', options,
    state: 'queued', progress: {}, createdAt: T0, resumes: 0, ...patch,
  });
  const engine = (event: EngineEvent, startedAt = T0 + 1000): QueueEvent => ({ type: 'engine', job: job({ state: 'running', startedAt }), event });
  const run = (events: Array<[QueueEvent, number]>): StatusState[] => {
    const out: StatusState[] = [];
    let s = initialStatus(job());
    for (const [e, now] of events) out.push((s = reduceStatus(s, e, now)));
    return out;
  };
  const first = (s: StatusState) => renderJobStatus(s).split('\n')[0];

  it('says "ready in" for a queued job (the queue\'s ETA is when the video is done)', () => {
    const [queued, moved] = run([
      [{ type: 'queued', job: job(), position: 2, etaMs: 5 * 60_000 }, T0],
      [{ type: 'position', job: job(), position: 1, etaMs: 3 * 60_000 }, T0 + 1],
    ]);
    expect(first(queued!)).toBe('Job #7 is queued (position 2, ready in about 5 min).');
    expect(first(moved!)).toBe('Job #7 is queued (next in line, ready in about 3 min).');
  });

  it('counts elapsed time from the first start: a restart 3 min in does not reset "done in"', () => {
    const resumedRun = { state: 'running' as const, firstStartedAt: T0, startedAt: T0 + 180_000 };
    const [, done] = run([
      [{ type: 'started', job: job(resumedRun) }, T0 + 180_000],
      [{ type: 'done', job: job({ ...resumedRun, state: 'done', finishedAt: T0 + 204_000 }) }, T0 + 204_000],
    ]);
    expect(first(done!)).toBe('Job #7 is done in 3 min 24 s.');
  });

  it('says why a job was picked up again (scale-out: another GPU) and keeps saying it while it runs', () => {
    const note = 'resumed on another GPU from its last finished section';
    const [restarted] = run([[{ type: 'resumed', job: job(), position: 2 }, T0]]);
    expect(first(restarted!)).toBe('Job #7 was picked up again after a restart (position 2).');
    const [resumed, running] = run([
      [{ type: 'resumed', job: job({ state: 'running' }), position: 1, note }, T0],
      [{ type: 'started', job: job({ state: 'running', startedAt: T0 }) }, T0],
    ]);
    expect(first(resumed!)).toBe(`Job #7 was ${note} (next in line).`);
    expect(renderJobStatus(running!).split('\n')[1]).toBe('Resumed on another GPU from its last finished section.');
  });

  it('names each stage, never a stale step while decoding or writing, and times from the injected clock', () => {
    const states = run([
      [{ type: 'started', job: job({ state: 'running', startedAt: T0 + 1000 }) }, T0 + 1000],
      [engine({ type: 'stage', stage: 'loading', detail: 'text encoders' }), T0 + 1500],
      [engine({ type: 'stage', stage: 'encoding_text' }), T0 + 2000],
      [engine({ type: 'stage', stage: 'encoding_image' }), T0 + 2500],
      [engine({ type: 'stage', stage: 'sampling', detail: 'section 1/2' }), T0 + 3000],
      [engine({ type: 'step', section: 1, sections: 2, step: 8, steps: 8, elapsedMs: 0, stepMs: 1000 }), T0 + 11_000],
      [engine({ type: 'stage', stage: 'decoding', detail: 'section 1/2' }), T0 + 11_500],
      [engine({ type: 'stage', stage: 'writing', detail: 'section 1/2' }), T0 + 12_000],
      [engine({ type: 'section', section: 1, sections: 2, videoPath: '/v1.mp4', shows: 'whole', frames: 33, seconds: 1.1 }), T0 + 12_500],
      [engine({ type: 'stage', stage: 'sampling', detail: 'section 2/2' }), T0 + 13_000],
      [engine({ type: 'stage', stage: 'done' }), T0 + 30_000],
    ]);
    expect(states.map(first)).toEqual([
      'Job #7 is starting.',
      'Job #7 is loading models (text encoders).',
      'Job #7 is encoding the prompt.',
      'Job #7 is encoding the image.',
      'Job #7 is sampling section 1/2.',
      'Job #7 is sampling section 1/2, step 8/8.',
      'Job #7 is decoding section 1/2 into frames.',
      'Job #7 is writing the video (section 1/2).',
      'Job #7 is writing the video (section 1/2).',
      'Job #7 is sampling section 2/2, step 0/8.',
      'Job #7 is finishing the video.',
    ]);
    expect(states.every((s) => !renderJobStatus(s).includes('running ('))).toBe(true);
    expect(states[1]!.elapsedMs).toBe(500); // now − startedAt, from the clock passed in
    // After section 1's sampling nobody knows yet how long its decode takes: no ETA rather than a
    // sampling-only one. Once section 1's video is written (1.5 s after its last step), section 2's
    // 8 steps at 1 s and its own decode and write are left.
    expect(states[5]!.etaMs).toBeUndefined();
    expect(renderJobStatus(states[5]!)).not.toContain('ready in');
    expect(states[9]!.etaMs).toBe(8 * 1000 + 1500);
  });

  it('estimates every stage from the measured times of jobs like this one; the bar is not full while the video is still written', () => {
    // The job from the issue: sampling 26.7 s, decoding 72.6 s, writing 46.8 s, two sections of 25 steps.
    const estimate = { stepMs: 534, sectionOverheadMs: (72_600 + 46_800) / 2, setupMs: 3000, sections: 2 };
    const started = job({ state: 'running', startedAt: T0, estimate });
    const at = (event: EngineEvent, now: number): [QueueEvent, number] => [{ type: 'engine', job: started, event }, now];
    const states = run([
      [{ type: 'started', job: started }, T0],
      at({ type: 'step', section: 1, sections: 2, step: 1, steps: 25, elapsedMs: 534, stepMs: 534 }, T0 + 3534),
      at({ type: 'stage', stage: 'decoding', detail: 'section 2/2' }, T0 + 3534 + 13_350 + 59_700 + 13_350),
      at({ type: 'stage', stage: 'writing', detail: 'section 2/2' }, T0 + 3534 + 13_350 + 59_700 + 13_350 + 36_300),
    ]);
    const afterFirstStep = states[1]!;
    expect(afterFirstStep.etaMs).toBe(Math.round(2 * (25 * 534 + 59_700) - 534));
    expect(renderJobStatus(afterFirstStep)).toMatch(/ready in about [23] min/); // 2 min 26 s left, not "less than a minute"
    const writingLast = renderJobStatus(states[3]!);
    expect(writingLast).not.toContain('100%');
    expect(writingLast).toMatch(/ 9\d%/);
  });

  it('ends in the terminal phase and ignores late events', () => {
    const [, done, late] = run([
      [{ type: 'started', job: job({ state: 'running', startedAt: T0 }) }, T0],
      [{ type: 'done', job: job({ state: 'done', startedAt: T0, finishedAt: T0 + 6_033 }) }, T0 + 9_999],
      [engine({ type: 'stage', stage: 'sampling' }), T0 + 10_000],
    ]);
    expect(done!.phase).toBe('done');
    expect(first(done!)).toBe('Job #7 is done in 6.0 s.'); // the job's own finish time, not the clock's later now
    expect(late).toBe(done);
    const delivered = renderJobStatus({ ...done!, delivery: 'Telegram refused the upload (file too big). I sent a smaller version.' });
    expect(delivered.split('\n')[1]).toBe('Telegram refused the upload (file too big). I sent a smaller version.');
  });

  it('formats video lengths with one decimal', () => {
    expect(formatSeconds(6.033333333333333)).toBe('6.0 s');
    expect(formatSeconds(1)).toBe('1.0 s');
    expect(formatSeconds(2.45)).toBe('2.5 s');
  });
});
