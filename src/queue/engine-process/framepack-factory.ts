// The product's engine factory for the worker process: the FramePack engine over a model set,
// built inside the worker so onnxruntime's blocking create()/run() never touch the bots' thread.
import { createFramePackEngine } from '../../engine/framepack.ts';
import type { ExecutionProvider } from '../../engine/runtime/session.ts';
import type { Engine } from '../../engine/types.ts';
import type { Logger } from '../../log.ts';

export interface FramePackFactoryOptions {
  modelDir: string;
  provider: ExecutionProvider;
  lowMemory?: boolean;
  resolution?: number;
}

export function createEngine(options: FramePackFactoryOptions, log: Logger): Promise<Engine> {
  return createFramePackEngine({
    modelDir: options.modelDir,
    provider: options.provider,
    log,
    ...(options.lowMemory !== undefined && { lowMemory: options.lowMemory }),
    ...(options.resolution !== undefined && { resolution: options.resolution }),
  });
}

/** The spec that makes an engine worker run this factory. */
export function framePackSpec(options: FramePackFactoryOptions): { module: string; options: Record<string, unknown> } {
  return { module: new URL('./framepack-factory.ts', import.meta.url).href, options: { ...options } };
}
