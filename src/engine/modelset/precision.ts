// The precision choices shared by `convert`, `models pull`, `models tiny` and `conformance`: card-class
// presets and one parser of the flags with clear refusals (the commander options themselves are in
// src/cli/precision-options.ts). A preset names a card class; explicit flags override its parts.
import { QUANT_BLOCK_SIZES, QUANT_MODES, quantLabel, quantSpec, type QuantBlockSize, type QuantMode, type QuantSpec } from '../onnx/quant.ts';
import { cpuInt8, type CpuInt8 } from '../runtime/cpu-int8.ts';
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
 * Card classes: `reference` computes as the golden sets do (the exact mode); `cpu-fast` is fp32 with
 * int8-dynamic Linears for CPUs with AMX or VNNI (≈ 2.7× faster per transformer call, error bounds in
 * the README); `gpu` is fp16 for cards that hold the 13B model's 26 GB of fp16 weights; `small-gpu`
 * adds int4/64 weights (≈ 7 GB for the transformer). `auto` (see resolvePreset) chooses per machine.
 */
export const PRECISION_PRESETS = {
  reference: { precision: 'fp32', quant: 'none', blockSize: 64 },
  'cpu-fast': { precision: 'fp32', quant: 'int8-dynamic', blockSize: 64 },
  gpu: { precision: 'fp16', quant: 'none', blockSize: 64 },
  'small-gpu': { precision: 'fp16', quant: 'int4', blockSize: 64 },
} as const;
export type PrecisionPreset = keyof typeof PRECISION_PRESETS;
export const PRESET_NAMES = [...Object.keys(PRECISION_PRESETS), 'auto'];

/** `auto`: cpu-fast where the CPU has int8 matrix units, else reference (CPU sets; cards name their class). */
export function resolvePreset(name: string, cpu: CpuInt8 = cpuInt8()): { preset: string; why?: string } {
  if (name !== 'auto') return { preset: name };
  return cpu.unit
    ? { preset: 'cpu-fast', why: `auto: this CPU has ${cpu.unit} int8 units (${cpu.flags.join(', ')}), so cpu-fast (fp32 + int8 dynamic)` }
    : { preset: 'reference', why: 'auto: this CPU has no AMX/VNNI int8 units, so reference (fp32)' };
}

export function parsePrecisionFlags(flags: PrecisionFlags, cpu?: CpuInt8): ParsedPrecision & { presetChoice?: string } {
  const { preset: presetName, why } = resolvePreset(flags.preset ?? 'reference', cpu);
  if (!(presetName in PRECISION_PRESETS)) throw new ModelSetError(`--preset must be ${PRESET_NAMES.join(', ')} (got ${presetName}).`);
  const preset = PRECISION_PRESETS[presetName as PrecisionPreset];
  const precision = flags.precision ?? preset.precision;
  if (precision !== 'fp32' && precision !== 'fp16') {
    throw new ModelSetError(`--precision must be fp32 or fp16 (got ${precision}); bf16 compute has no onnxruntime CPU or WebGPU kernels yet.`);
  }
  const quantMode = flags.quant ?? preset.quant;
  if (!QUANT_MODES.includes(quantMode as QuantMode)) throw new ModelSetError(`--quant must be ${QUANT_MODES.join(', ')} (got ${quantMode}).`);
  if (quantMode === 'int8-dynamic' && precision !== 'fp32') throw new ModelSetError('--quant int8-dynamic needs --precision fp32 (onnxruntime has no float16 DynamicQuantizeMatMul).');
  const blockSize = Number(flags.blockSize ?? preset.blockSize);
  if (!QUANT_BLOCK_SIZES.includes(blockSize as QuantBlockSize)) throw new ModelSetError(`--block-size must be 32, 64 or 128 (got ${flags.blockSize}).`);
  const attention = flags.attention ?? 'fused';
  if (attention !== 'fused' && attention !== 'composed') throw new ModelSetError(`--attention must be fused or composed (got ${attention}).`);
  const quant = quantSpec(quantMode as QuantMode, blockSize as QuantBlockSize);
  return { attention, precision, quantMode: quantMode as QuantMode, blockSize: blockSize as QuantBlockSize, quant, ...(why ? { presetChoice: why } : {}) };
}

/** "fp16 + int4/64" style label for logs and listings. */
export function precisionLabel(precision: Precision | undefined, quant: QuantSpec | null | undefined): string {
  return `${precision ?? 'fp32'}${quant ? ` + ${quantLabel(quant)}` : ''}`;
}
