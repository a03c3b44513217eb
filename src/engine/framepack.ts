// The FramePack Engine (src/engine/types.ts) over a converted model set: ONNX components opened
// through a ComponentPool, the section loop in ./pipeline/run.ts.
import type { Logger } from '../log.ts';
import { HunyuanVae } from './vae/runtime.ts';
import { ImageEncoder } from './image/runtime.ts';
import { readManifest } from './modelset/manifest.ts';
import { TextConditioner } from './text/runtime.ts';
import { PackedTransformer } from './transformer/runtime.ts';
import { ComponentPool, type ComponentLoaders } from './pipeline/components.ts';
import { runFramePackJob, type PipelineSettings } from './pipeline/run.ts';
import type { ExecutionProvider } from './runtime/session.ts';
import type { MagCacheParams } from './sampler/magcache.ts';
import type { Engine, EngineJob, EngineResult } from './types.ts';

export interface FramePackEngineOptions {
  modelDir: string;
  provider: ExecutionProvider;
  log?: Logger;
  /** Keep every session open between stages and jobs (fast, memory-hungry). Default false. */
  keepWarm?: boolean;
  /** Close the transformer before decoding and open transformer blocks one at a time. Default false. */
  lowMemory?: boolean;
  /** Bucket resolution. Default 640 (FramePack's); the tiny set defaults to TINY_RESOLUTION. */
  resolution?: number;
  teacacheThreshold?: number;
  /** MagCache threshold / max consecutive skips / retention ratio (FramePack-Studio's defaults otherwise). */
  magcache?: Partial<MagCacheParams>;
  /** Replace the networks (tests, benchmarks); defaults to the ONNX runtimes of `modelDir`. */
  loaders?: ComponentLoaders;
}

/** The tiny set's bucket resolution: same aspect buckets, scaled down so a CPU run takes seconds. */
export const TINY_RESOLUTION = 128;

export function onnxLoaders(modelDir: string, provider: ExecutionProvider, lowMemory: boolean): ComponentLoaders {
  return {
    text: () => TextConditioner.load(modelDir, { provider }),
    image: () => ImageEncoder.load(modelDir, { provider }),
    vae: () => HunyuanVae.load(modelDir, { provider }),
    transformer: () => PackedTransformer.load(modelDir, { provider, lowMemory }),
    transformerF1: () => PackedTransformer.load(modelDir, { provider, lowMemory, component: 'transformer_f1' }),
  };
}

export async function createFramePackEngine(opts: FramePackEngineOptions): Promise<Engine> {
  const manifest = await readManifest(opts.modelDir);
  const settings: PipelineSettings = {
    models: manifest.components.transformer_f1 ? ['original', 'f1'] : ['original'],
    modelIdentity: `${manifest.name}@${manifest.createdAt}`,
    resolution: opts.resolution ?? (manifest.tiny ? TINY_RESOLUTION : 640),
    lowMemory: opts.lowMemory ?? false,
    // As FramePack: below its high-VRAM threshold the VAE decodes in tiles too.
    tiledDecode: opts.lowMemory ?? false,
    ...(opts.teacacheThreshold !== undefined ? { teacacheThreshold: opts.teacacheThreshold } : {}),
    ...(opts.magcache ? { magcache: opts.magcache } : {}),
  };
  const pool = new ComponentPool(opts.loaders ?? onnxLoaders(opts.modelDir, opts.provider, settings.lowMemory ?? false), opts.keepWarm ?? false);
  let running: Promise<unknown> = Promise.resolve();
  const description =
    `FramePack ${manifest.tiny ? 'tiny model set (random weights: the video is noise)' : 'model set'} "${manifest.name}" on ${opts.provider}` +
    `, ${settings.resolution}-bucket${manifest.components.transformer_f1 ? ', original + F1 transformers' : ''}`;
  return {
    describe: () => description,
    run(job: EngineJob): Promise<EngineResult> {
      // One job at a time per engine: jobs share the pool's sessions.
      const result = running.then(async () => {
        opts.log?.info({ workDir: job.workDir, seconds: job.options.seconds, steps: job.options.steps }, 'framepack job start');
        const r = await runFramePackJob(job, pool, settings);
        opts.log?.info({ workDir: job.workDir, frames: r.frames, resumed: r.resumed, timings: r.timings }, 'framepack job done');
        return r;
      });
      running = result.catch(() => undefined);
      return result;
    },
    async close() {
      await running;
      await pool.closeAll();
    },
  };
}
