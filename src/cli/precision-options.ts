// The `--preset`, `--precision`, `--quant`, `--block-size` and `--attention` options of the commands
// that build graphs; src/engine/modelset/precision.ts parses what they give.
import { Option, type Command } from 'commander';
import { PRESET_NAMES } from '../engine/modelset/precision.ts';

export function addPrecisionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--preset <name>', 'card class: reference (fp32, exact), cpu-fast (fp32 + int8 dynamic, for CPUs with AMX/VNNI), gpu (fp16), small-gpu (fp16 + int4/64), or auto (cpu-fast where this CPU has int8 units, else reference); the flags below override its parts').choices(PRESET_NAMES))
    .addOption(new Option('--precision <type>', 'compute type of the graphs: fp32, or fp16 (weights stored and multiplied in fp16) [default: the preset\'s, else fp32]'))
    .addOption(new Option('--quant <mode>', 'quantization of every Linear: none; int8 or int4 weight-only blocks (com.microsoft.MatMulNBits, to save memory); int8-dynamic, int8 weights and activations (DynamicQuantizeMatMul, the CPU fast mode, fp32 only) [default: the preset\'s, else none]'))
    .addOption(new Option('--block-size <n>', 'quantization block size along the input dimension: 32, 64 or 128 [default: 64]'))
    .addOption(
      new Option('--attention <kernel>', 'attention kernel: fused (com.microsoft.MultiHeadAttention) or composed (MatMul/Softmax; for WebGPU, whose fused kernel is wrong in onnxruntime 1.30)').default('fused'),
    );
}
