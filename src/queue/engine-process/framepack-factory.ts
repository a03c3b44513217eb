// The product's engine factory for the worker process: the FramePack engine over a model set,
// built inside the worker so onnxruntime's blocking create()/run() never touch the bots' thread.
import { createFramePackEngine } from '../../engine/framepack.ts';
import { intraOpThreads, setIntraOpThreads, type ExecutionProvider } from '../../engine/runtime/session.ts';
import type { Engine } from '../../engine/types.ts';
import type { Logger } from '../../log.ts';

export interface FramePackFactoryOptions {
  modelDir: string;
  provider: ExecutionProvider;
  /** MEMORY_BUDGET_GB: resident blocks up to it, streamed beyond; undefined = everything resident. */
  memoryBudgetGb?: number;
  /** ORT_THREADS: intra-op threads of every session (they live in this process, so it is set here). */
  threads?: number;
  /** BUCKET_RESOLUTION: undefined = the model set's default (640; the tiny set's 128). */
  resolution?: number;
}

export async function createEngine(options: FramePackFactoryOptions, log: Logger): Promise<Engine> {
  setIntraOpThreads(options.threads);
  const engine = await createFramePackEngine({
    modelDir: options.modelDir,
    provider: options.provider,
    log,
    // The transformer opens at start, so its memory plan is logged before the first job.
    preload: true,
    ...(options.memoryBudgetGb !== undefined && { memoryBudgetGb: options.memoryBudgetGb }),
    ...(options.resolution !== undefined && { resolution: options.resolution }),
  });
  log.info({ provider: options.provider, intraOpThreads: intraOpThreads(), memoryBudgetGb: options.memoryBudgetGb ?? null }, 'engine ready');
  return engine;
}

/** The spec that makes an engine worker run this factory. */
export function framePackSpec(options: FramePackFactoryOptions): { module: string; options: Record<string, unknown> } {
  return { module: new URL('./framepack-factory.ts', import.meta.url).href, options: { ...options } };
}
