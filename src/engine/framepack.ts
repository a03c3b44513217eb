// The FramePack Engine (src/engine/types.ts) over a converted model set: ONNX components opened
// through a ComponentPool, the section loop in ./pipeline/run.ts.
import type { Logger } from '../log.ts';
import { HunyuanVae } from './vae/runtime.ts';
import { ImageEncoder } from './image/runtime.ts';
import { readManifest } from './modelset/manifest.ts';
import { TextConditioner } from './text/runtime.ts';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PackedTransformer, type TransformerDescription } from './transformer/runtime.ts';
import { formatBytes } from './transformer/traffic.ts';
import { planDecodeTiling } from './memory-budget.ts';
import { parseVaeConfig } from './vae/config.ts';
import { ComponentPool, type ComponentLoaders, type KeepPolicy } from './pipeline/components.ts';
import { runFramePackJob, type PipelineSettings } from './pipeline/run.ts';
import type { ExecutionProvider } from './runtime/session.ts';
import type { MagCacheParams } from './sampler/magcache.ts';
import type { Engine, EngineJob, EngineResult } from './types.ts';

export interface FramePackEngineOptions {
  modelDir: string;
  provider: ExecutionProvider;
  log?: Logger;
  /** Keep every session open between stages and jobs whatever the budget says. */
  keepWarm?: boolean;
  /**
   * MEMORY_BUDGET_GB: device memory for the networks. The transformer keeps blocks resident up to it
   * and streams the rest from host memory; the VAE and the encoders stay open between uses only when
   * the budget has room for them next to the transformer. Undefined: everything stays resident.
   */
  memoryBudgetGb?: number;
  /** Open the transformer at creation (its plan is logged at startup, not at the first job). */
  preload?: boolean;
  /** forward() as one graph per step when every block is resident (default: on for cuda). */
  wholeStep?: boolean;
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

export interface OnnxLoaderOptions {
  /** Device bytes the transformer may use; beyond it blocks stream from host memory. */
  transformerBudgetBytes?: number;
  wholeStep?: boolean;
  log?: Logger;
}

export function onnxLoaders(modelDir: string, provider: ExecutionProvider, opts: OnnxLoaderOptions = {}): ComponentLoaders {
  const openTransformer = async (component: 'transformer' | 'transformer_f1') => {
    const t = await PackedTransformer.load(modelDir, {
      provider,
      component,
      ...(opts.transformerBudgetBytes !== undefined ? { memoryBudgetBytes: opts.transformerBudgetBytes } : {}),
      ...(opts.wholeStep !== undefined ? { wholeStep: opts.wholeStep } : {}),
      // WebGPU keeps the token streams on the device between sessions (gpu-buffer chaining).
      chainOnDevice: provider === 'webgpu',
    });
    opts.log?.info({ [component]: summarisePlan(t.describe()) }, 'transformer sessions open');
    return t;
  };
  return {
    text: () => TextConditioner.load(modelDir, { provider }),
    image: () => ImageEncoder.load(modelDir, { provider }),
    vae: () => HunyuanVae.load(modelDir, { provider }),
    transformer: () => openTransformer('transformer'),
    transformerF1: () => openTransformer('transformer_f1'),
  };
}

/** The startup line: how many blocks are resident and streamed, and what one step moves at 640. */
export function summarisePlan(d: TransformerDescription): Record<string, unknown> {
  const s = d.expectedStepBytes;
  return {
    mode: d.mode,
    compute: d.compute,
    residentBlocks: d.residentBlockFiles,
    streamedBlocks: d.streamedBlockFiles,
    blockSessions: d.blockSessions,
    wholeStepGraph: d.wholeStep,
    residentWeights: formatBytes(d.residentWeightBytes),
    hostWeights: formatBytes(d.streamedWeightBytes),
    ...(d.budgetFits ? {} : { warning: 'the budget is smaller than one streamed block plus embed, head and activations' }),
    expectedPerStep640: {
      computed: `${formatBytes(s.computed.toDevice)} to device (${formatBytes(s.computed.weights)} of weights), ${formatBytes(s.computed.toHost)} to host`,
      teacacheSkip: `${formatBytes(s.teacacheSkip.toDevice)} to device, ${formatBytes(s.teacacheSkip.toHost)} to host`,
    },
  };
}

/** Bytes of a component's files (graphs + external weights) in the model set. */
async function componentBytes(modelDir: string, files: string[]): Promise<number> {
  let total = 0;
  for (const f of files) {
    for (const p of [join(modelDir, f), join(modelDir, `${f}.data`)]) total += (await stat(p).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

export async function createFramePackEngine(opts: FramePackEngineOptions): Promise<Engine> {
  const manifest = await readManifest(opts.modelDir);
  const fused = Object.entries(manifest.components).filter(([, c]) => c && (c.attention ?? 'fused') === 'fused').map(([k]) => k);
  if (opts.provider === 'webgpu' && fused.length > 0) {
    // Pinned by tests/engine/runtime/webgpu.test.ts: that test fails once onnxruntime fixes the kernel.
    opts.log?.warn(
      { components: fused },
      "onnxruntime 1.30's WebGPU MultiHeadAttention is wrong from 32 keys up: these components use it, so their output will be off. Convert with --attention composed for WebGPU.",
    );
  }
  const settings: PipelineSettings = {
    models: manifest.components.transformer_f1 ? ['original', 'f1'] : ['original'],
    modelIdentity: `${manifest.name}@${manifest.createdAt}`,
    resolution: opts.resolution ?? (manifest.tiny ? TINY_RESOLUTION : 640),
    tiledDecode: false, // planned below, from the budget and the decoder's computed peak
    ...(opts.teacacheThreshold !== undefined ? { teacacheThreshold: opts.teacacheThreshold } : {}),
    ...(opts.magcache ? { magcache: opts.magcache } : {}),
  };
  // Budget plan: the VAE must fit next to the transformer's resident part (decodes run between
  // sections); the encoders and the VAE stay open between uses only if everything fits at once.
  const sizes: Record<string, number> = {};
  for (const [kind, comp] of Object.entries(manifest.components)) sizes[kind] = await componentBytes(opts.modelDir, Object.values(comp?.files ?? {}));
  // The pool holds one transformer at a time (original or F1), so the larger of the two is planned for.
  const transformerBytes = Math.max(sizes.transformer ?? 0, sizes.transformer_f1 ?? 0);
  const others = Object.entries(sizes).filter(([k]) => k !== 'transformer' && k !== 'transformer_f1').reduce((a, [, b]) => a + b, 0);
  const budget = opts.memoryBudgetGb !== undefined ? opts.memoryBudgetGb * 2 ** 30 : undefined;
  const decode = planDecodeTiling(manifest.components.vae ? parseVaeConfig(manifest.components.vae.config) : undefined, settings.resolution, opts.memoryBudgetGb, others + transformerBytes);
  settings.tiledDecode = decode.tiled;
  const allFit = budget === undefined || budget >= others + transformerBytes;
  const keep: KeepPolicy = opts.keepWarm ? true : (kind) => kind === 'transformer' || kind === 'transformerF1' || allFit;
  const loaderOpts: OnnxLoaderOptions = {
    ...(budget !== undefined ? { transformerBudgetBytes: Math.max(0, budget - (allFit ? others : (sizes.vae ?? 0))) } : {}),
    wholeStep: opts.wholeStep ?? opts.provider === 'cuda',
    ...(opts.log ? { log: opts.log } : {}),
  };
  const pool = new ComponentPool(opts.loaders ?? onnxLoaders(opts.modelDir, opts.provider, loaderOpts), keep);
  if (opts.preload) await pool.get('transformer');
  let running: Promise<unknown> = Promise.resolve();
  const description =
    `FramePack ${manifest.tiny ? 'tiny model set (random weights: the video is noise)' : 'model set'} "${manifest.name}" on ${opts.provider}` +
    `, ${settings.resolution}-bucket${manifest.components.transformer_f1 ? ', original + F1 transformers' : ''}, ${decode.why}`;
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
