// Messages between the bots' process and the engine worker process (child_process IPC with the
// 'advanced' serialisation, so Buffers such as latent previews cross as bytes, not JSON).
import type { EngineEvent, EngineResult } from '../../engine/types.ts';
import type { JobOptions } from '../../options/job-options.ts';

/**
 * Which engine the worker builds: a module exporting `createEngine(options)` (see
 * ./framepack-factory.ts for the product's), and the JSON options for it.
 */
export interface EngineSpec {
  /** Absolute path or file URL of the factory module. */
  module: string;
  options: Record<string, unknown>;
}

export type ToWorker =
  | { type: 'init'; spec: EngineSpec; logLevel: string }
  | { type: 'run'; jobId: string; imagePath: string; endImagePath?: string; workDir: string; options: JobOptions }
  | { type: 'cancel'; jobId: string }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; description: string }
  | { type: 'init-failed'; message: string }
  | { type: 'event'; jobId: string; event: EngineEvent }
  | { type: 'result'; jobId: string; result: EngineResult }
  | { type: 'error'; jobId: string; message: string; cancelled: boolean }
  /** One pino JSON line of the worker's logger, for the parent's logger to write. */
  | { type: 'log'; line: string }
  | { type: 'closed' };
