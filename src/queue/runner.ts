// The single-machine queue's runner: one engine call per job, with the engine's events translated
// into job progress (written at most every `progressPersistMs`, and at every finished section) and
// re-emitted as queue events; the outcome comes back classified for the queue to settle.
import { EngineCancelledError, type Engine, type EngineEvent } from '../engine/types.ts';
import type { Clock } from './clock.ts';
import type { ActiveJob } from './scheduler.ts';
import { RunTimer, type TimingSample } from './timing.ts';
import type { JobRecord, QueueEvent } from './types.ts';

export type RunOutcome =
  | { kind: 'done'; resumed: boolean; sample: TimingSample | null }
  | { kind: 'cancelled' }
  | { kind: 'failed'; error: unknown };

export interface RunnerHooks {
  /** Writes the record (errors are the hook's to log). */
  persist(record: JobRecord): void;
  emit(event: QueueEvent): void;
}

export class JobRunner {
  constructor(
    private readonly engine: Engine,
    private readonly clock: Clock,
    private readonly progressPersistMs: number,
    private readonly hooks: RunnerHooks,
  ) {}

  /** Runs the engine for a job; on success the record carries its result. Never throws. */
  async run(job: ActiveJob): Promise<RunOutcome> {
    const { record, controller } = job;
    const timer = new RunTimer(this.clock.now());
    const sectionPaths: string[] = [];
    let settled = false;
    try {
      const result = await this.engine.run({
        imagePath: record.imagePath,
        ...(record.endImagePath !== undefined && { endImagePath: record.endImagePath }),
        options: record.options,
        workDir: record.workDir,
        signal: controller.signal,
        onEvent: (event) => {
          if (!settled) this.onEngineEvent(job, event, timer, sectionPaths);
        },
      });
      settled = true;
      record.result = { videoPath: result.videoPath, frames: result.frames, seconds: result.seconds, sectionPaths };
      record.timings = result.timings;
      record.progress.stage = 'done';
      return { kind: 'done', resumed: result.resumed, sample: result.resumed ? null : timer.finish(this.clock.now()) };
    } catch (error) {
      settled = true;
      if (controller.signal.aborted || error instanceof EngineCancelledError) return { kind: 'cancelled' };
      return { kind: 'failed', error };
    }
  }

  private onEngineEvent(job: ActiveJob, event: EngineEvent, timer: RunTimer, sectionPaths: string[]): void {
    const at = this.clock.now();
    timer.observe(event, at);
    const { progress } = job.record;
    let persistNow = false;
    switch (event.type) {
      case 'stage':
        progress.stage = event.stage;
        persistNow = at - job.lastProgressWrite >= this.progressPersistMs;
        break;
      case 'step':
        Object.assign(progress, { section: event.section, sections: event.sections, step: event.step, steps: event.steps });
        persistNow = at - job.lastProgressWrite >= this.progressPersistMs;
        break;
      case 'section':
        sectionPaths.push(event.videoPath);
        Object.assign(progress, { section: event.section, sections: event.sections });
        persistNow = true;
        break;
      case 'done':
        progress.stage = 'done';
        break;
    }
    if (persistNow) {
      job.lastProgressWrite = at;
      this.hooks.persist(job.record);
    }
    this.hooks.emit({ type: 'engine', job: structuredClone(job.record), event });
  }
}
