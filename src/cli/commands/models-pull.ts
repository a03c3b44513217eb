// `recurvid models pull`: the command's flags and configuration (HF_TOKEN, HF_ENDPOINT); the download
// and conversion are src/engine/conversion/pull.ts.
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { StorageDtype } from '../../engine/onnx/weights.ts';
import { ModelSetError } from '../../engine/modelset/manifest.ts';
import { parsePrecisionFlags, type PrecisionFlags } from '../../engine/modelset/precision.ts';
import { pullModelSet } from '../../engine/conversion/pull.ts';
import { addPrecisionOptions } from '../precision-options.ts';

/** Adds `pull` to the `recurvid models` command. */
export function registerPull(models: Command): void {
  const pull = models
    .command('pull')
    .description('Download the official FramePack / HunyuanVideo / SigLIP weights from the Hugging Face Hub and convert them into a model set')
    .option('--out <dir>', 'model set folder to create', 'models/framepack')
    .option('--dtype <dtype>', 'weight storage in the ONNX files: bf16, fp16 or fp32', 'bf16')
    .option('--downloads <dir>', 'where the official folders are downloaded (resumable)', 'models/downloads')
    .option('--f1', 'also pull the FramePack-F1 transformer (lllyasviel/FramePack_F1_I2V_HY_20250503) into the same set');
  addPrecisionOptions(pull)
    .action(async (o: { out: string; dtype: string; downloads: string; f1?: boolean } & PrecisionFlags) => {
      if (!['bf16', 'fp16', 'fp32'].includes(o.dtype)) throw new ModelSetError(`--dtype must be bf16, fp16 or fp32 (got ${o.dtype}).`);
      const p = parsePrecisionFlags(o);
      if (p.presetChoice) process.stderr.write(`${p.presetChoice}.\n`);
      const config = loadConfig();
      await pullModelSet({
        out: o.out,
        storage: o.dtype as StorageDtype,
        precision: p.precision,
        ...(p.quant ? { quant: p.quant } : {}),
        attention: p.attention,
        downloadDir: o.downloads,
        f1: o.f1 === true,
        progress: process.stderr.isTTY === true,
        ...(config.HF_ENDPOINT ? { hubUrl: config.HF_ENDPOINT.replace(/\/$/, '') } : {}),
        ...(config.HF_TOKEN ? { accessToken: config.HF_TOKEN } : {}),
      });
      process.stderr.write(`Model set ready in ${o.out}.\n`);
    });
}
