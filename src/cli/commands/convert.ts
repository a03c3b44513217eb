// `recurvid convert --framepack DIR [--framepack-f1 DIR] [--hunyuan DIR] [--redux DIR] --out models/NAME
//   [--dtype fp32|fp16|bf16] [--precision fp32|fp16] [--quant none|int8|int4 [--block-size 32|64|128]]`
// Builds ONNX graphs from the official safetensors folders (see src/engine/conversion/convert.ts).
import { Option, type Command } from 'commander';
import { createLogger } from '../../log.ts';
import { convertModelSet } from '../../engine/conversion/convert.ts';
import type { StorageDtype } from '../../engine/onnx/weights.ts';
import { parsePrecisionFlags, precisionLabel, type PrecisionFlags } from '../../engine/modelset/precision.ts';
import { addPrecisionOptions } from '../precision-options.ts';

interface ConvertFlags extends PrecisionFlags {
  framepack?: string;
  framepackF1?: string;
  hunyuan?: string;
  redux?: string;
  out: string;
  dtype: StorageDtype;
}

export function register(program: Command): void {
  const cmd = program
    .command('convert')
    .description('build an ONNX model set from the official safetensors folders (Hugging Face layout)')
    .option('--framepack <dir>', 'lllyasviel/FramePackI2V_HY folder (transformer)')
    .option('--framepack-f1 <dir>', 'lllyasviel/FramePack_F1_I2V_HY_20250503 folder (F1 transformer, added next to the original one)')
    .option('--hunyuan <dir>', 'hunyuanvideo-community/HunyuanVideo folder (text encoders, tokenizers, VAE)')
    .option('--redux <dir>', 'lllyasviel/flux_redux_bfl folder (SigLIP image encoder)')
    .requiredOption('--out <dir>', 'model set folder to write, e.g. models/framepack')
    .addOption(
      new Option('--dtype <dtype>', 'weight storage dtype of fp32 graphs (fp16 graphs store fp16)').choices(['fp32', 'fp16', 'bf16']).default('bf16'),
    );
  addPrecisionOptions(cmd)
    .action(async (flags: ConvertFlags) => {
      const p = parsePrecisionFlags(flags);
      if (p.presetChoice) process.stdout.write(`${p.presetChoice}.\n`);
      const log = createLogger({ LOG_LEVEL: 'info' });
      const sources = {
        ...(flags.framepack ? { framepack: flags.framepack } : {}),
        ...(flags.framepackF1 ? { framepack_f1: flags.framepackF1 } : {}),
        ...(flags.hunyuan ? { hunyuan: flags.hunyuan } : {}),
        ...(flags.redux ? { redux: flags.redux } : {}),
      };
      const started = Date.now();
      const result = await convertModelSet({ sources, out: flags.out, storage: flags.dtype, precision: p.precision, attention: p.attention, ...(p.quant ? { quant: p.quant } : {}), log });
      process.stdout.write(
        `Converted ${result.converted.join(', ')} into ${flags.out} (${precisionLabel(p.precision, p.quant)}, ${p.precision === 'fp16' ? 'fp16' : flags.dtype} weights) in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`,
      );
      for (const s of result.skipped) process.stdout.write(`Skipped ${s.components.join(', ')}: no --${s.repo.replace('_', '-')} folder given.\n`);
    });
}
