// The `--precision`, `--quant` and `--block-size` flags shared by `convert`, `models pull`,
// `models tiny` and `conformance`: commander options plus one parser with clear refusals.
import { Option, type Command } from 'commander';
import { QUANT_BLOCK_SIZES, quantSpec, type QuantBlockSize, type QuantMode, type QuantSpec } from '../onnx/quant.ts';
import type { Precision } from '../onnx/weights.ts';
import type { AttentionKernel } from '../onnx/graph.ts';
import { ModelSetError } from './manifest.ts';

export interface PrecisionFlags {
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

export function addPrecisionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--precision <type>', 'compute type of the graphs: fp32, or fp16 (weights stored and multiplied in fp16)').default('fp32'))
    .addOption(new Option('--quant <mode>', 'weight-only quantization of every Linear: none, int8 or int4 (com.microsoft.MatMulNBits)').default('none'))
    .addOption(new Option('--block-size <n>', 'quantization block size along the input dimension: 32, 64 or 128').default('64'))
    .addOption(
      new Option('--attention <kernel>', 'attention kernel: fused (com.microsoft.MultiHeadAttention) or composed (MatMul/Softmax; for WebGPU, whose fused kernel is wrong in onnxruntime 1.30)').default('fused'),
    );
}

export function parsePrecisionFlags(flags: PrecisionFlags): ParsedPrecision {
  const precision = flags.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'fp16') {
    throw new ModelSetError(`--precision must be fp32 or fp16 (got ${precision}); bf16 compute has no onnxruntime CPU or WebGPU kernels yet.`);
  }
  const quantMode = flags.quant ?? 'none';
  if (quantMode !== 'none' && quantMode !== 'int8' && quantMode !== 'int4') throw new ModelSetError(`--quant must be none, int8 or int4 (got ${quantMode}).`);
  const blockSize = Number(flags.blockSize ?? 64);
  if (!QUANT_BLOCK_SIZES.includes(blockSize as QuantBlockSize)) throw new ModelSetError(`--block-size must be 32, 64 or 128 (got ${flags.blockSize}).`);
  const attention = flags.attention ?? 'fused';
  if (attention !== 'fused' && attention !== 'composed') throw new ModelSetError(`--attention must be fused or composed (got ${attention}).`);
  return { attention, precision, quantMode, blockSize: blockSize as QuantBlockSize, quant: quantSpec(quantMode, blockSize as QuantBlockSize) };
}

/** "fp16 + int4/64" style label for logs and listings. */
export function precisionLabel(precision: Precision | undefined, quant: QuantSpec | null | undefined): string {
  return `${precision ?? 'fp32'}${quant ? ` + int${quant.bits}/${quant.blockSize}` : ''}`;
}
