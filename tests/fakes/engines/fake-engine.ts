/**
 * FakeEngine: a controllable stand-in for the FramePack engine, for tests of the queue and the bots.
 * It emits the real event sequence (stage → step… → section per section → done), writes placeholder
 * files in workDir (section-<n>.mp4, final.mp4 — text, not real video), keeps a resume checkpoint
 * there like the real engine, and stops within one step when the job's AbortSignal fires.
 *
 *   new FakeEngine()                                  // instant; 1 section per ~1.2 s of video, options.steps steps
 *   new FakeEngine({ sections: 2, steps: 3 })         // fixed shape, whatever the options say
 *   new FakeEngine({ manual: true })                  // every step waits for release(); see waitForHeld()
 *   new FakeEngine({ clock, stepMs: 100, setupMs: 500, sectionMs: 200 })
 *                                                     // a ManualClock is advanced by those amounts
 *                                                     // (step events report elapsedMs = stepMs)
 *   new FakeEngine({ realTime: true, stepMs: 20 })    // really waits stepMs per step (no clock)
 *
 *   await engine.waitForHeld()    // resolves when a run is blocked at a step gate (manual mode)
 *   engine.release(2)             // lets two steps through; engine.releaseAll() leaves manual mode
 *   engine.failNextRun('CUDA out of memory', { afterSteps: 1 })   // next run() rejects with that Error
 *   engine.calls                  // one entry per run(): imagePath, workDir, options, startSection, outcome
 *   await engine.waitForRuns(2)   // resolves once run() has been called twice
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';
import { EngineCancelledError, type Engine, type EngineEvent, type EngineJob, type EngineResult } from '../../../src/engine/types.ts';
import type { JobOptions } from '../../../src/options/job-options.ts';
import { sectionsFor } from '../../../src/queue/timing.ts';
import { CHECKPOINT_FILE } from '../../../src/engine/pipeline/checkpoint.ts';

export interface FakeEngineOptions {
  /** Sections per run; default FramePack's count for options.seconds and options.windowSize. */
  sections?: number;
  /** Steps per section; default options.steps. */
  steps?: number;
  /** Reported (and, with a clock or realTime, spent) ms per step. Default 10. */
  stepMs?: number;
  /** Time spent before the first step (loading, text and image encoders). Default 0. */
  setupMs?: number;
  /** Time spent per section after its last step (decode and mp4 write). Default 0. */
  sectionMs?: number;
  /** Advanced instead of waiting, so timing-based code is exact. */
  clock?: { advance(ms: number): void };
  /** Without a clock: really wait the configured times. Default false (only yields between steps). */
  realTime?: boolean;
  /** Each step waits for release(). Default false. */
  manual?: boolean;
}

export type FakeRunOutcome = 'running' | 'done' | 'cancelled' | 'failed';

export interface FakeEngineCall {
  imagePath: string;
  endImagePath?: string;
  workDir: string;
  options: JobOptions;
  /** Sections already done from a checkpoint when the run began (0 = fresh start). */
  startSection: number;
  outcome: FakeRunOutcome;
  /** Steps this run executed. */
  steps: number;
}

// 1×1 grey PNG: a real image so adapters can attach it like a latent preview.
const PREVIEW_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==',
  'base64',
);
// Same file name as the real engine's checkpoint, so whatever moves checkpoints between machines
// (the scale-out GPU worker) handles both; the content here is JSON, not safetensors.
const CHECKPOINT = CHECKPOINT_FILE;

export class FakeEngine implements Engine {
  readonly calls: FakeEngineCall[] = [];
  private manual: boolean;
  private permits = 0;
  private readonly gateWaiters: Array<() => void> = [];
  private readonly heldWatchers: Array<() => void> = [];
  private readonly runWatchers: Array<{ count: number; resolve: () => void }> = [];
  private pendingFailure: { message: string; afterSteps: number } | undefined;
  closed = false;

  constructor(private readonly opts: FakeEngineOptions = {}) {
    this.manual = opts.manual ?? false;
  }

  describe(): string {
    return 'fake engine (tests only; writes placeholder files, not video)';
  }

  async close(): Promise<void> {
    this.closed = true;
    this.releaseAll();
  }

  /** Lets `steps` gated steps through (manual mode). */
  release(steps = 1): void {
    this.permits += steps;
    while (this.permits > 0 && this.gateWaiters.length > 0) {
      this.permits -= 1;
      this.gateWaiters.shift()!();
    }
  }

  /** Leaves manual mode: every waiting and future step proceeds. */
  releaseAll(): void {
    this.manual = false;
    for (const wake of this.gateWaiters.splice(0)) wake();
  }

  /** Resolves once some run is blocked at a step gate. */
  waitForHeld(): Promise<void> {
    if (this.gateWaiters.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.heldWatchers.push(resolve));
  }

  /** Resolves once run() has been called `count` times in total. */
  waitForRuns(count: number): Promise<void> {
    if (this.calls.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.runWatchers.push({ count, resolve }));
  }

  /** The next run() rejects with Error(message) after `afterSteps` steps (0 = before the first). */
  failNextRun(message: string, options: { afterSteps?: number } = {}): void {
    this.pendingFailure = { message, afterSteps: options.afterSteps ?? 0 };
  }

  async run(job: EngineJob): Promise<EngineResult> {
    const { options, workDir, signal } = job;
    const sections = this.opts.sections ?? sectionsFor(options);
    const steps = this.opts.steps ?? options.steps;
    const failure = this.pendingFailure;
    this.pendingFailure = undefined;
    await mkdir(workDir, { recursive: true });
    const startSection = await readCheckpoint(workDir);
    const call: FakeEngineCall = {
      imagePath: job.imagePath, ...(job.endImagePath !== undefined && { endImagePath: job.endImagePath }),
      workDir, options, startSection, outcome: 'running', steps: 0,
    };
    this.calls.push(call);
    for (const w of this.runWatchers.filter((w) => this.calls.length >= w.count)) {
      this.runWatchers.splice(this.runWatchers.indexOf(w), 1);
      w.resolve();
    }
    const emit = (event: EngineEvent) => job.onEvent(event);
    const timings: Record<string, number> = {};
    try {
      emit({ type: 'stage', stage: 'loading' });
      emit({ type: 'stage', stage: 'encoding_text' });
      emit({ type: 'stage', stage: 'encoding_image' });
      await this.spend(this.opts.setupMs ?? 0);
      timings.setup = this.opts.setupMs ?? 0;
      const sectionPaths: string[] = [];
      for (let section = startSection + 1; section <= sections; section++) {
        const resuming = section === startSection + 1 && startSection > 0;
        emit({ type: 'stage', stage: 'sampling', detail: `section ${section} of ${sections}${resuming ? ' (resumed from checkpoint)' : ''}` });
        for (let step = 1; step <= steps; step++) {
          await this.gate(signal);
          if (signal.aborted) throw new EngineCancelledError();
          if (failure && call.steps >= failure.afterSteps) throw new Error(failure.message);
          const stepMs = this.opts.stepMs ?? 10;
          await this.spend(stepMs);
          call.steps += 1;
          timings.sampling = (timings.sampling ?? 0) + stepMs;
          emit({
            type: 'step',
            section,
            sections,
            step,
            steps,
            // Reported (virtual) time since the job started: everything spent so far.
            elapsedMs: Object.values(timings).reduce((a, b) => a + b, 0),
            stepMs,
            ...(options.previews && { previewPng: PREVIEW_PNG }),
          });
        }
        emit({ type: 'stage', stage: 'decoding' });
        await this.spend(this.opts.sectionMs ?? 0);
        timings.decoding = (timings.decoding ?? 0) + (this.opts.sectionMs ?? 0);
        emit({ type: 'stage', stage: 'writing' });
        const videoPath = path.join(workDir, `section-${section}.mp4`);
        await writeFile(videoPath, `fake mp4: sections 1-${section} of ${sections}\n`);
        // Like the real engine: each section leaves one segment, which its checkpoint builds on.
        const segmentPath = path.join(workDir, segmentName(section));
        await writeFile(segmentPath, `fake segment ${section}\n`);
        await writeFile(path.join(workDir, CHECKPOINT), JSON.stringify({ sectionsDone: section }));
        sectionPaths.push(videoPath);
        const frames = framesFor(section, options.windowSize);
        emit({ type: 'section', section, sections, videoPath, shows: 'whole', frames, seconds: frames / 30, segmentPath });
      }
      const videoPath = path.join(workDir, 'final.mp4');
      await writeFile(videoPath, `fake mp4: ${sections} sections\n`);
      const frames = framesFor(sections, options.windowSize);
      emit({ type: 'stage', stage: 'done' });
      emit({ type: 'done', videoPath, frames, seconds: frames / 30, timings });
      call.outcome = 'done';
      return { videoPath, frames, seconds: frames / 30, timings, resumed: startSection > 0 };
    } catch (error) {
      call.outcome = error instanceof EngineCancelledError ? 'cancelled' : 'failed';
      throw error;
    }
  }

  private async spend(ms: number): Promise<void> {
    if (this.opts.clock) this.opts.clock.advance(ms);
    else if (this.opts.realTime && ms > 0) await sleep(ms);
    // Always yield a macrotask, like real work: other I/O (and cancels) get their turn.
    await nextMacrotask();
  }

  private async gate(signal: AbortSignal): Promise<void> {
    if (!this.manual || signal.aborted) return;
    if (this.permits > 0) {
      this.permits -= 1;
      return;
    }
    await new Promise<void>((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.gateWaiters.indexOf(wake);
        if (i >= 0) this.gateWaiters.splice(i, 1);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.gateWaiters.push(wake);
      for (const notify of this.heldWatchers.splice(0)) notify();
    });
  }
}

/** Frames after `sections` sections, FramePack-style: each section adds window·4 − 3 new frames. */
function framesFor(sections: number, windowSize: number): number {
  return sections * (windowSize * 4 - 3);
}

function segmentName(section: number): string {
  return `segment-${String(section).padStart(4, '0')}.mp4`;
}

/** Sections the checkpoint says are done, if every segment it builds on is here (else 0: start over). */
async function readCheckpoint(workDir: string): Promise<number> {
  try {
    const parsed = JSON.parse(await readFile(path.join(workDir, CHECKPOINT), 'utf8')) as { sectionsDone?: unknown };
    const done = typeof parsed.sectionsDone === 'number' ? parsed.sectionsDone : 0;
    for (let s = 1; s <= done; s++) await readFile(path.join(workDir, segmentName(s)));
    return done;
  } catch {
    return 0;
  }
}
