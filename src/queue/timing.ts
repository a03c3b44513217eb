// Measured timings and the ETA arithmetic built on them. Samples come from real runs (per-step ms
// from the engine's step events, section overhead and setup from the queue's clock); nothing here
// is a constant guess, and an estimate is null until a run with the same key has finished.
import type { EngineEvent } from '../engine/types.ts';
import type { JobOptions } from '../options/job-options.ts';
import type { JobProgress, TimingEstimate, TimingSample } from './types.ts';
import { totalLatentSections } from '../engine/functions/sections.ts';

export type { TimingEstimate, TimingSample };

/** Recent samples per timing key, newest last. This is what the store persists. */
export type TimingTable = Record<string, TimingSample[]>;

export const MAX_SAMPLES_PER_KEY = 10;

/**
 * Jobs are comparable when the bucket, steps, cache mode and model match. Original-model jobs with
 * TeaCache on/off keep the key format they had before MagCache and F1 existed, so learned timings
 * survive; MagCache adds `cache=magcache`, F1 adds `model=f1`.
 */
export function timingKey(sizeKey: string, options: Pick<JobOptions, 'steps' | 'cache' | 'model'>): string {
  const mode = options.cache;
  const cache = mode === 'magcache' ? 'cache=magcache' : `teacache=${mode === 'teacache' ? 'on' : 'off'}`;
  return `${sizeKey}|steps=${options.steps}|${cache}${options.model === 'f1' ? '|model=f1' : ''}`;
}

/** FramePack's section count (demo_gradio.py): round(seconds·30 / (window·4)), at least 1; Python rounds half to even. */
export function sectionsFor(options: Pick<JobOptions, 'seconds' | 'windowSize'>): number {
  return totalLatentSections(options.seconds, options.windowSize);
}

export class TimingStats {
  private readonly table: TimingTable;

  constructor(table: TimingTable = {}) {
    this.table = structuredClone(table);
  }

  record(key: string, sample: TimingSample): void {
    const list = (this.table[key] ??= []);
    list.push(sample);
    if (list.length > MAX_SAMPLES_PER_KEY) list.splice(0, list.length - MAX_SAMPLES_PER_KEY);
  }

  /** Mean of the recent samples for this key, or null when none exist. */
  estimate(key: string): TimingEstimate | null {
    const list = this.table[key];
    if (!list || list.length === 0) return null;
    const mean = (pick: (s: TimingSample) => number) => list.reduce((sum, s) => sum + pick(s), 0) / list.length;
    return {
      stepMs: mean((s) => s.stepMs),
      sectionOverheadMs: mean((s) => s.sectionOverheadMs),
      setupMs: mean((s) => s.setupMs),
      sections: list[list.length - 1]!.sections,
    };
  }

  toJSON(): TimingTable {
    return structuredClone(this.table);
  }
}

/** Whole-job estimate for a job that has not started. */
export function estimateTotalMs(est: TimingEstimate, sections: number, steps: number): number {
  return Math.round(est.setupMs + sections * (steps * est.stepMs + est.sectionOverheadMs));
}

/** What is left of a running job, from its progress; falls back to total − elapsed before the first step. */
export function estimateRemainingMs(
  est: TimingEstimate,
  sections: number,
  steps: number,
  progress: JobProgress,
  elapsedMs: number,
): number {
  if (progress.section === undefined || progress.step === undefined) {
    return Math.max(0, estimateTotalMs(est, sections, steps) - elapsedMs);
  }
  const totalSections = progress.sections ?? sections;
  const stepsPer = progress.steps ?? steps;
  const stepsLeft = Math.max(0, totalSections * stepsPer - ((progress.section - 1) * stepsPer + progress.step));
  const sectionsLeft = Math.max(0, totalSections - progress.section + 1); // the current one still has its decode ahead
  return Math.round(stepsLeft * est.stepMs + sectionsLeft * est.sectionOverheadMs);
}

/** Collects one run's timings from engine events, using the queue's clock. */
export class RunTimer {
  private firstStepAt: number | undefined;
  private setupMs = 0;
  private lastStepAt: number | undefined;
  private lastSectionAt: number | undefined;
  private readonly stepMs: number[] = [];
  private readonly overheads: number[] = [];
  private sections = 0;

  constructor(private readonly startedAt: number) {}

  observe(event: EngineEvent, at: number): void {
    if (event.type === 'step') {
      if (this.firstStepAt === undefined) {
        this.firstStepAt = at;
        this.setupMs = Math.max(0, at - this.startedAt - event.stepMs);
      }
      this.stepMs.push(event.stepMs);
      this.lastStepAt = at;
      this.sections = Math.max(this.sections, event.sections);
    } else if (event.type === 'section') {
      if (this.lastStepAt !== undefined) this.overheads.push(Math.max(0, at - this.lastStepAt));
      this.lastSectionAt = at;
      this.lastStepAt = undefined;
    }
  }

  /** The sample for a finished run, or null when no step was seen. */
  finish(at: number): TimingSample | null {
    if (this.stepMs.length === 0) return null;
    const tailFrom = this.lastSectionAt ?? this.lastStepAt ?? at;
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    return {
      stepMs: mean(this.stepMs),
      sectionOverheadMs: mean(this.overheads),
      setupMs: this.setupMs + Math.max(0, at - tailFrom),
      sections: this.sections,
      at,
    };
  }
}
