// Engine factory that makes the real tiny FramePack engine slow *and blocking* on purpose: after
// every sampling step it holds the JavaScript thread for `blockMs` (Atomics.wait), like
// onnxruntime-node's run() does with a big model. Used to prove the bots' event loop stays free when
// the engine runs in its own process, and (in the bench) how badly it stalls in-process.
import { createFramePackEngine } from '../../../src/engine/framepack.ts';
import type { Engine, EngineJob } from '../../../src/engine/types.ts';
import type { Logger } from '../../../src/log.ts';

export interface BlockingFactoryOptions {
  modelDir: string;
  blockMs: number;
  resolution?: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Holds the thread for `ms` milliseconds: no timers, no I/O, no event loop turn. */
export function blockThread(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

export function blocking(engine: Engine, blockMs: number): Engine {
  return {
    describe: () => `${engine.describe()}, blocking ${blockMs} ms per step`,
    close: () => engine.close(),
    run: (job: EngineJob) =>
      engine.run({
        ...job,
        onEvent: (event) => {
          if (event.type === 'step') blockThread(blockMs);
          job.onEvent(event);
        },
      }),
  };
}

export async function createEngine(options: BlockingFactoryOptions, log: Logger): Promise<Engine> {
  const engine = await createFramePackEngine({
    modelDir: options.modelDir,
    provider: 'cpu',
    log,
    ...(options.resolution !== undefined && { resolution: options.resolution }),
  });
  return blocking(engine, options.blockMs);
}
