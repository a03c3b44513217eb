// The contract each component converter implements. `recurvid convert` and `recurvid models tiny`
// walk the registry in ./registry.ts; each converter lives next to its graph builder.
import type { Logger } from '../../log.ts';
import type { Precision, StorageDtype } from '../onnx/weights.ts';
import type { QuantSpec } from '../onnx/quant.ts';
import type { AttentionKernel } from '../onnx/graph.ts';
import type { ComponentManifest, ComponentName, SourceRepo } from './manifest.ts';

export interface ConvertOptions {
  storage: StorageDtype;
  /** Compute type (default fp32). The transformer computes in it; the other components store fp16 weights for it. */
  precision?: Precision;
  /** Weight-only quantization of the transformer's and the LLaMA text encoder's Linears. */
  quant?: QuantSpec;
  /** Attention kernel of the transformer and VAE graphs (composed: MatMul/Softmax, for WebGPU). */
  attention?: AttentionKernel;
  log?: Logger;
}

export interface ComponentConverter {
  /** The manifest entries this converter produces (a tokenizer converter may produce two). */
  components: ComponentName[];
  /** Which official repository folder it reads: `${sources[repo]}/${subdir}`. */
  source: { repo: SourceRepo; subdir: string };
  /** Throws ModelSetError naming the first missing or wrong file. */
  validate(srcDir: string): Promise<void>;
  /** Builds graphs / copies assets into `${outDir}/…` and returns manifest entries. */
  convert(srcDir: string, outDir: string, opts: ConvertOptions): Promise<ComponentManifest[]>;
  /** Writes an official-format folder with a tiny config and seeded random weights. */
  makeTiny(srcDir: string, seed: number): Promise<void>;
}

/**
 * Storage dtype of the components that compute in float32 (VAE, CLIP, SigLIP, LLaMA): an fp16 model
 * set stores their weights in fp16 too (Cast to float32 at load), so the set has one weight dtype.
 */
export function float32ComponentStorage(opts: ConvertOptions): StorageDtype {
  return opts.precision === 'fp16' ? 'fp16' : opts.storage;
}
