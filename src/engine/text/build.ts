// Builds an encoder graph straight from an official folder (config.json + safetensors): used by the
// converters (saved with external data) and by conformance (kept in memory). The text encoders'
// builders are here; an encoder elsewhere (SigLIP, image/encoder.ts) passes its own to
// buildEncoderWith, so the text folder never imports the image folder.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/graph.ts';
import { WeightBinder, safetensorsWeights, type StorageDtype } from '../onnx/weights.ts';
import type { QuantSpec } from '../onnx/quant.ts';
import { SafetensorsStore } from '../safetensors.ts';
import { buildLlama, llamaPrefix, type LlamaConfig } from './llama.ts';
import { buildClipText, clipTextPrefix, type ClipTextConfig } from './clip_text.ts';

export type EncoderKind = 'llama' | 'clip_text_model';

export interface BuiltEncoder {
  graph: GraphBuilder;
  binder: WeightBinder;
  store: SafetensorsStore;
  config: Record<string, unknown>;
}

export async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

export interface BuildOptions {
  storage?: StorageDtype;
  /** Weight-only quantization of the Linears (MatMulNBits); the converters ask it for LLaMA only. */
  quant?: QuantSpec;
  /** LLaMA: python-style hidden-state index (default -3); conformance sets allHiddenStates. */
  hiddenStateIndex?: number;
  allHiddenStates?: boolean;
  /** SigLIP: also build the attention-pooling head. */
  withPooler?: boolean;
}

/** Adds one encoder's graph to `binder`; `has` says which weight names the folder holds. */
export type EncoderBuild = (binder: WeightBinder, config: Record<string, unknown>, has: (name: string) => boolean, opts: BuildOptions) => void;

const TEXT_BUILDS: Record<EncoderKind, EncoderBuild> = {
  llama: (binder, config, has, opts) =>
    buildLlama(binder, config as unknown as LlamaConfig, {
      hiddenStateIndex: opts.hiddenStateIndex ?? -3,
      allHiddenStates: opts.allHiddenStates ?? false,
      prefix: llamaPrefix(has),
    }),
  clip_text_model: (binder, config, has) => buildClipText(binder, config as unknown as ClipTextConfig, clipTextPrefix(has)),
};

/** Opens `dir` and builds a text encoder's graph; the caller saves it and closes `store`. */
export function buildEncoder(dir: string, kind: EncoderKind, opts: BuildOptions = {}): Promise<BuiltEncoder> {
  return buildEncoderWith(dir, kind, TEXT_BUILDS[kind], opts);
}

/** Opens `dir` and builds its graph with `build`; the caller saves it and closes `store`. */
export async function buildEncoderWith(dir: string, name: string, build: EncoderBuild, opts: BuildOptions = {}): Promise<BuiltEncoder> {
  const config = await readJson<Record<string, unknown>>(join(dir, 'config.json'));
  const store = await SafetensorsStore.open(dir);
  const graph = new GraphBuilder(name, 17);
  const binder = new WeightBinder(graph, safetensorsWeights(store), { storage: opts.storage ?? 'fp32', ...(opts.quant ? { quant: opts.quant } : {}) });
  try {
    build(binder, config, (n) => store.has(n), opts);
  } catch (err) {
    await store.close();
    throw err;
  }
  return { graph, binder, store, config };
}
