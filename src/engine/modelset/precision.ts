// The precision choices shared by `convert`, `models pull`, `models tiny` and `conformance`: card-class
// presets and one parser of the flags with clear refusals (the commander options themselves are in
// src/cli/precision-options.ts). A preset names a card class; explicit flags override its parts.
import { QUANT_BLOCK_SIZES, quantSpec, type QuantBlockSize, type QuantMode, type QuantSpec } from '../onnx/quant.ts';
import type { Precision } from '../onnx/weights.ts';
import type { AttentionKernel } from '../onnx/graph.ts';
import { ModelSetError } from './manifest.ts';

export interface PrecisionFlags {
  preset?: string;
  attention?: string;
  precision?: string;
  quant?: string;
  blockSize?: string | number;
}

export interface ParsedPrecision {
  precision: Precision;
  quantMode: QuantMode;
  blockSize: QuantBlockSize;
  quant: QuantSpec | undefined;
  attention: AttentionKernel;
}

/**
 * Card classes: `reference` computes as the golden sets do; `gpu` is fp16 for cards that hold the 13B
 * model's 26 GB of fp16 weights; `small-gpu` adds int4/64 weights (≈ 7 GB for the transformer).
 */
export const PRECISION_PRESETS = {
  reference: { precision: 'fp32', quant: 'none', blockSize: 64 },
  gpu: { precision: 'fp16', quant: 'none', blockSize: 64 },
  'small-gpu': { precision: 'fp16', quant: 'int4', blockSize: 64 },
} as const;
export type PrecisionPreset = keyof typeof PRECISION_PRESETS;

export function parsePrecisionFlags(flags: PrecisionFlags): ParsedPrecision {
  const presetName = flags.preset ?? 'reference';
  if (!(presetName in PRECISION_PRESETS)) throw new ModelSetError(`--preset must be ${Object.keys(PRECISION_PRESETS).join(', ')} (got ${presetName}).`);
  const preset = PRECISION_PRESETS[presetName as PrecisionPreset];
  const precision = flags.precision ?? preset.precision;
  if (precision !== 'fp32' && precision !== 'fp16') {
    throw new ModelSetError(`--precision must be fp32 or fp16 (got ${precision}); bf16 compute has no onnxruntime CPU or WebGPU kernels yet.`);
  }
  const quantMode = flags.quant ?? preset.quant;
  if (quantMode !== 'none' && quantMode !== 'int8' && quantMode !== 'int4') throw new ModelSetError(`--quant must be none, int8 or int4 (got ${quantMode}).`);
  const blockSize = Number(flags.blockSize ?? preset.blockSize);
  if (!QUANT_BLOCK_SIZES.includes(blockSize as QuantBlockSize)) throw new ModelSetError(`--block-size must be 32, 64 or 128 (got ${flags.blockSize}).`);
  const attention = flags.attention ?? 'fused';
  if (attention !== 'fused' && attention !== 'composed') throw new ModelSetError(`--attention must be fused or composed (got ${attention}).`);
  return { attention, precision, quantMode, blockSize: blockSize as QuantBlockSize, quant: quantSpec(quantMode, blockSize as QuantBlockSize) };
}

/** "fp16 + int4/64" style label for logs and listings. */
export function precisionLabel(precision: Precision | undefined, quant: QuantSpec | null | undefined): string {
  return `${precision ?? 'fp32'}${quant ? ` + int${quant.bits}/${quant.blockSize}` : ''}`;
}
