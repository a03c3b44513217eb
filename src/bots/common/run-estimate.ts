// How far a running job is and how long it has left, counting every stage: sampling steps, and each
// section's decode and write, which on a CPU can take longer than its sampling (a job once said
// "ready in less than a minute" while it had 2 min 45 s of decoding and writing ahead of it).
// Times come from this run's own step and section events, else from the queue's measured estimate
// for jobs of the same kind; when neither says how long a decode takes, there is no ETA rather than a
// wrong one, and the bar weighs a section's decode like its sampling, so it never sits at 100 %
// while the video is still being made. Pure.
import type { TimingEstimate } from '../../queue/types.ts';

export interface RunTimes {
  stage?: string;
  section?: number;
  sections?: number;
  step?: number;
  steps?: number;
  /** The last section whose video is written. */
  sectionDone?: number;
  /** This run's smoothed ms per step. */
  stepMs?: number;
  /** This run's mean decode + write time per section. */
  overheadMs?: number;
  /** When the current section's last step finished (its decode started). */
  samplingEndedAt?: number;
  /** Earlier runs of the same kind, from the queue. */
  estimate?: TimingEstimate;
}

export interface RunProgress {
  /** 0–1 of the whole job's work, or undefined before the first step. */
  fraction?: number;
  /** Milliseconds left, when every stage's duration is known. */
  remainingMs?: number;
}

/** A decode that has run longer than expected is shown as at most this share done. */
const MAX_OVERHEAD_SHARE = 0.9;

export function runProgress(t: RunTimes, now: number): RunProgress {
  const sections = t.sections;
  const steps = t.steps;
  if (!sections || !steps || t.section === undefined) return {};
  const stepMs = t.stepMs ?? t.estimate?.stepMs;
  const overheadMs = t.overheadMs ?? t.estimate?.sectionOverheadMs;
  const timed = stepMs !== undefined && overheadMs !== undefined;
  // Weights per section; without timings a decode counts as long as the section's sampling.
  const sampling = stepMs !== undefined ? steps * stepMs : 1;
  const overhead = timed ? overheadMs : sampling;
  const perSection = sampling + overhead;

  const current = t.section;
  let doneInCurrent: number;
  if (t.sectionDone !== undefined && t.sectionDone >= current) {
    doneInCurrent = perSection;
  } else {
    doneInCurrent = (Math.min(t.step ?? 0, steps) / steps) * sampling;
    const inOverhead = t.stage === 'decoding' || t.stage === 'writing';
    if (inOverhead && timed && t.samplingEndedAt !== undefined) {
      doneInCurrent += Math.min(MAX_OVERHEAD_SHARE * overhead, Math.max(0, now - t.samplingEndedAt));
    }
  }
  const total = sections * perSection;
  const done = Math.min(total, (current - 1) * perSection + doneInCurrent);
  const progress: RunProgress = { fraction: Math.min(done / total, t.sectionDone === sections ? 1 : 0.99) };
  if (timed) progress.remainingMs = Math.max(0, Math.round(total - done));
  return progress;
}
