// Builds a text/image encoder graph straight from an official folder (config.json + safetensors):
// used by the converters (saved with external data) and by conformance (kept in memory).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/graph.ts';
import { WeightBinder, safetensorsWeights, type StorageDtype } from '../onnx/weights.ts';
import type { QuantSpec } from '../onnx/quant.ts';
import { SafetensorsStore } from '../safetensors.ts';
import { buildLlama, llamaPrefix, type LlamaConfig } from './llama.ts';
import { buildClipText, clipTextPrefix, type ClipTextConfig } from './clip_text.ts';
import { buildSiglipVision, siglipPrefix, type SiglipVisionConfig } from '../image/siglip.ts';

export type EncoderKind = 'llama' | 'clip_text_model' | 'siglip_vision_model';

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

/** Opens `dir` and builds its graph; the caller saves it and closes `store`. */
export async function buildEncoder(dir: string, kind: EncoderKind, opts: BuildOptions = {}): Promise<BuiltEncoder> {
  const config = await readJson<Record<string, unknown>>(join(dir, 'config.json'));
  const store = await SafetensorsStore.open(dir);
  const graph = new GraphBuilder(kind, 17);
  const binder = new WeightBinder(graph, safetensorsWeights(store), { storage: opts.storage ?? 'fp32', ...(opts.quant ? { quant: opts.quant } : {}) });
  const has = (n: string) => store.has(n);
  try {
    if (kind === 'llama') {
      buildLlama(binder, config as unknown as LlamaConfig, {
        hiddenStateIndex: opts.hiddenStateIndex ?? -3,
        allHiddenStates: opts.allHiddenStates ?? false,
        prefix: llamaPrefix(has),
      });
    } else if (kind === 'clip_text_model') {
      buildClipText(binder, config as unknown as ClipTextConfig, clipTextPrefix(has));
    } else {
      buildSiglipVision(binder, config as unknown as SiglipVisionConfig, { prefix: siglipPrefix(has), withPooler: opts.withPooler ?? false });
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return { graph, binder, store, config };
}
