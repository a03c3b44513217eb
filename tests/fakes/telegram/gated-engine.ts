// A test engine for the Telegram e2e tests: it emits the real event sequence (stages, steps,
// growing section videos, done) using a small real mp4, and can hold a job at a given step until
// the test releases it, so tests can act while a job is "running".
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineCancelledError, type Engine, type EngineJob, type EngineResult } from '../../../src/engine/types.ts';

export interface GatedEngineOptions {
  /** The mp4 every section and the final video are copies of. */
  videoPath: string;
  sections?: number;
  /** Delay between step events (ms). */
  stepMs?: number;
}

export class GatedEngine implements Engine {
  readonly runs: EngineJob[] = [];
  private gate: { step: number; open: Promise<void>; release: () => void; reached: () => void; wasReached: Promise<void> } | undefined;

  constructor(private readonly opts: GatedEngineOptions) {}

  /** The next job pauses before step `step` of section 1 until `release()`. Resolves `reached` when it gets there. */
  holdAt(step: number): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let reached!: () => void;
    const open = new Promise<void>((r) => (release = r));
    const wasReached = new Promise<void>((r) => (reached = r));
    this.gate = { step, open, release, reached, wasReached };
    return { reached: wasReached, release };
  }

  async run(job: EngineJob): Promise<EngineResult> {
    this.runs.push(job);
    const sections = this.opts.sections ?? 2;
    const steps = job.options.steps;
    const started = Date.now();
    const check = (): void => {
      if (job.signal.aborted) throw new EngineCancelledError();
    };
    for (const stage of ['loading', 'encoding_text', 'encoding_image'] as const) {
      check();
      job.onEvent({ type: 'stage', stage });
    }
    job.onEvent({ type: 'stage', stage: 'sampling' });
    let videoPath = '';
    for (let section = 1; section <= sections; section++) {
      for (let step = 1; step <= steps; step++) {
        const gate = this.gate;
        if (gate && section === 1 && step === gate.step) {
          gate.reached();
          await Promise.race([gate.open, aborted(job.signal)]);
          this.gate = undefined;
        }
        check();
        const stepStarted = Date.now();
        await sleep(this.opts.stepMs ?? 1);
        job.onEvent({ type: 'step', section, sections, step, steps, elapsedMs: Date.now() - started, stepMs: Date.now() - stepStarted });
      }
      videoPath = join(job.workDir, `section_${section}.mp4`);
      await copyFile(this.opts.videoPath, videoPath);
      job.onEvent({ type: 'section', section, sections, videoPath, shows: 'whole', frames: 30 * section, seconds: section });
    }
    const finalPath = join(job.workDir, 'final.mp4');
    await copyFile(videoPath, finalPath);
    const timings = { sampling: Date.now() - started };
    job.onEvent({ type: 'done', videoPath: finalPath, frames: 30 * sections, seconds: job.options.seconds, timings });
    return { videoPath: finalPath, frames: 30 * sections, seconds: job.options.seconds, timings, resumed: false };
  }

  describe(): string {
    return 'gated test engine';
  }

  async close(): Promise<void> {}
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
