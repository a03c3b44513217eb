// The single-machine queue's runner: one engine call per job, with the engine's events translated
// into job progress (written at most every `progressPersistMs`, and at every finished section) and
// re-emitted as queue events; the outcome comes back classified for the queue to settle. The run
// itself is engine-run.ts's, the same as a scale-out GPU worker's; with the local store the
// workspace is the job's directory itself, so nothing is copied.
import path from 'node:path';
import type { Engine, EngineEvent } from '../engine/types.ts';
import type { ArtifactStore } from './artifacts/artifact-store.ts';
import { EngineWorkspace, type JobFiles } from './artifacts/job-artifacts.ts';
import type { Clock } from './clock.ts';
import { runInWorkspace } from './engine-run.ts';
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
    private readonly artifacts: ArtifactStore,
    private readonly clock: Clock,
    private readonly progressPersistMs: number,
    private readonly hooks: RunnerHooks,
  ) {}

  /** Runs the engine for a job; on success the record carries its result. Never throws. */
  async run(job: ActiveJob): Promise<RunOutcome> {
    const { record, controller } = job;
    const timer = new RunTimer(this.clock.now());
    const sectionPaths: string[] = [];
    let space: EngineWorkspace;
    try {
      // With a store that keeps nothing here, the job's own directory is the scratch space.
      space = await EngineWorkspace.open(this.artifacts, filesOf(record), path.dirname(record.workDir));
    } catch (error) {
      return controller.signal.aborted ? { kind: 'cancelled' } : { kind: 'failed', error };
    }
    const outcome = await runInWorkspace(this.engine, space, record.options, controller, {
      onEvent: (event) => this.onEngineEvent(job, event, timer, sectionPaths),
    });
    if (outcome.kind === 'stopped') return { kind: 'cancelled' };
    if (outcome.kind === 'failed') return outcome;
    const { result, final } = outcome;
    record.result = { videoPath: final.path, frames: result.frames, seconds: result.seconds, sectionPaths };
    record.timings = result.timings;
    record.progress.stage = 'done';
    return { kind: 'done', resumed: result.resumed, sample: result.resumed ? null : timer.finish(this.clock.now()) };
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

/** The job's files as artifact-store names (the saved copies keep the extensions the user sent). */
function filesOf(record: JobRecord): JobFiles {
  return {
    jobId: record.id,
    imageName: path.basename(record.imagePath),
    ...(record.endImagePath !== undefined && { endImageName: path.basename(record.endImagePath) }),
  };
}
