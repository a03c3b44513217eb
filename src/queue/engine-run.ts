// One engine run inside an EngineWorkspace: the part the single-machine runner (runner.ts) and the
// scale-out GPU worker (bullmq/gpu-worker.ts) share. Each finished section is stored as it comes
// (a section that cannot be stored stops the job: no one could show it or resume from it), the
// final video is stored, and whatever happened comes back classified, never thrown. The callers
// keep only what differs: how progress is recorded (the job record / BullMQ progress) and what
// a stop means to their queue.
import { EngineCancelledError, type Engine, type EngineEvent, type EngineResult } from '../engine/types.ts';
import type { JobOptions } from '../options/job-options.ts';
import type { EngineWorkspace } from './artifacts/job-artifacts.ts';

export type EngineRunOutcome =
  | { kind: 'done'; result: EngineResult; final: { key: string; path: string } }
  /** Stopped through `stop` (a cancel, a drain: `reason` says which) or by the engine's cancel error. */
  | { kind: 'stopped'; reason: unknown }
  /** The engine failed, or a section or the final video could not be stored (`error` is that failure). */
  | { kind: 'failed'; error: unknown };

export interface EngineRunHooks {
  /** Every engine event while the run lasts; a section's stored name comes with it. */
  onEvent(event: EngineEvent, sectionKey?: string): void;
  /** Resolves once what `onEvent` started is out (awaited before the outcome is settled). */
  settled?(): Promise<unknown>;
}

export async function runInWorkspace(
  engine: Engine, space: EngineWorkspace, options: JobOptions, stop: AbortController, hooks: EngineRunHooks,
): Promise<EngineRunOutcome> {
  let over = false;
  let storeError: unknown;
  try {
    const result = await engine.run({
      imagePath: space.imagePath,
      ...(space.endImagePath !== undefined && { endImagePath: space.endImagePath }),
      options,
      workDir: space.workDir,
      signal: stop.signal,
      onEvent: (event) => {
        if (over) return;
        const key = event.type === 'section'
          ? space.storeSection(event, (error) => {
              storeError ??= error;
              stop.abort(error);
            })
          : undefined;
        hooks.onEvent(event, key);
      },
    });
    await hooks.settled?.();
    if (storeError !== undefined) throw storeError;
    const final = await space.storeFinal(result.videoPath);
    over = true;
    return { kind: 'done', result, final };
  } catch (error) {
    over = true;
    await hooks.settled?.().catch(() => undefined);
    await space.settle();
    if (storeError !== undefined) return { kind: 'failed', error: storeError };
    if (stop.signal.aborted || error instanceof EngineCancelledError) return { kind: 'stopped', reason: stop.signal.reason };
    return { kind: 'failed', error };
  }
}
