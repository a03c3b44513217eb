// One section end to end at the real width, for the GPU check: the transformer's sampling steps at
// the 640 bucket (the random set the step lines used), the official-width VAE (random weights, made
// here) encoding the start frame and decoding the section's 10 latent frames into 37 frames of
// 608×640 with the tiling the memory plan chooses, and the H.264 encode of those frames. Prints the
// time of each part and seconds per output frame; run in its own process by check.ts.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { framesToUint8 } from '../../src/engine/functions/index.ts';
import { planDecodeTiling } from '../../src/engine/memory-budget.ts';
import { planMemoryBudget, readMemoryFacts } from '../../src/engine/memory-plan.ts';
import { updateManifest } from '../../src/engine/modelset/manifest.ts';
import type { ExecutionProvider } from '../../src/engine/runtime/session.ts';
import { BUCKET_640, type StepShapes } from '../../src/engine/transformer/plan.ts';
import { PackedTransformer, type TransformerInputs } from '../../src/engine/transformer/runtime.ts';
import { TINY_VAE_CONFIG, vaeConverter, writeRandomVae } from '../../src/engine/vae/component.ts';
import { HunyuanVae } from '../../src/engine/vae/runtime.ts';
import { writeMp4 } from '../../src/engine/video/mp4.ts';

/** diffusers' AutoencoderKLHunyuanVideo defaults: the VAE FramePack loads. */
export const OFFICIAL_VAE_CONFIG = { ...TINY_VAE_CONFIG, block_out_channels: [128, 256, 512, 512], layers_per_block: 2, norm_num_groups: 32 };

export interface SectionReport {
  frames: number; width: number; height: number; steps: number; tiled: boolean; decodeCalls: number;
  samplingS: number; vaeEncodeS: number; vaeDecodeS: number; decoderNetworkS: number; h264S?: number; h264Skipped?: string;
  maxRssMiB: number;
}

/** Writes the VAE set (fp16 weights on GPUs, the fused attention only where it is right). */
export async function writeSectionVae(dir: string, size: 'full' | 'small', provider: ExecutionProvider): Promise<string> {
  const config = size === 'full' ? OFFICIAL_VAE_CONFIG : TINY_VAE_CONFIG;
  await writeRandomVae(join(dir, 'src'), config, 3);
  const [entry] = await vaeConverter.convert(join(dir, 'src'), join(dir, 'set'), {
    storage: 'fp32', precision: provider === 'cpu' ? 'fp32' : 'fp16', ...(provider === 'webgpu' ? { attention: 'composed' as const } : {}),
  });
  await updateManifest(join(dir, 'set'), { name: 'gpu-check-vae', tiny: true, components: { vae: entry! } });
  await rm(join(dir, 'src'), { recursive: true, force: true });
  return join(dir, 'set');
}

export async function runSection(
  transformerDir: string, vaeDir: string, provider: ExecutionProvider, shape: StepShapes, steps: number,
  inputs: (s: StepShapes, textDim: number, pooledDim: number, imageDim: number) => TransformerInputs, work: string,
): Promise<SectionReport> {
  const model = await PackedTransformer.load(transformerDir, { provider, wholeStep: provider !== 'webgpu', chainOnDevice: provider === 'webgpu', expectedShapes: shape });
  const x = inputs(shape, model.config.textEmbedDim, model.config.pooledDim, model.config.imageDim);
  const call = () => (model.runStep ? model.runStep(x) : model.forward(x));
  await call(); // warm-up, as a worker that has served a job before
  let t = performance.now();
  for (let i = 0; i < steps; i++) await call();
  const samplingS = (performance.now() - t) / 1000;
  await model.close();

  const vae = await HunyuanVae.load(vaeDir, { provider });
  const budget = planMemoryBudget(undefined, provider, readMemoryFacts(provider));
  // At the real width the plan reserves the 13B transformer's fp16 weights (≈26 GB resident next to the VAE).
  const weights = shape === BUCKET_640 ? 26 * 2 ** 30 : 0;
  const { tiled } = planDecodeTiling(vae.config, shape === BUCKET_640 ? 640 : shape.h * 8, budget.budgetGb, weights);
  const [h, w] = [shape.h * 8, shape.w * 8];
  t = performance.now();
  await vae.encode({ data: new Float32Array(3 * h * w).map((_, i) => Math.sin(i * 0.001)), dims: [1, 3, 1, h, w] });
  const vaeEncodeS = (performance.now() - t) / 1000;
  const latentFrames = shape.t + 1; // a first section: the window plus the start latent
  const latents = { data: new Float32Array(16 * latentFrames * shape.h * shape.w).map((_, i) => Math.sin(i * 0.37)), dims: [1, 16, latentFrames, shape.h, shape.w] };
  vae.takeNetworkMs();
  const callsBefore = vae.calls.decoder;
  t = performance.now();
  const pixels = await vae.decode(latents, { tiled });
  const vaeDecodeS = (performance.now() - t) / 1000;
  const decoderNetworkS = vae.takeNetworkMs() / 1000;
  const decodeCalls = vae.calls.decoder - callsBefore;
  await vae.close();

  const frames = pixels.dims[2]!;
  const report: SectionReport = {
    frames, width: w, height: h, steps, tiled, decodeCalls, samplingS, vaeEncodeS, vaeDecodeS, decoderNetworkS, maxRssMiB: 0,
  };
  try {
    t = performance.now();
    await writeMp4(join(work, 'section.mp4'), framesToUint8(pixels), frames, w, h, { joinable: true });
    report.h264S = (performance.now() - t) / 1000;
  } catch (err) {
    report.h264Skipped = (err as Error).message.split('\n')[0]!.slice(0, 160);
  }
  report.maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  return report;
}

/** The line check.ts prints. */
export function formatSection(label: string, r: SectionReport): string {
  const total = r.samplingS + r.vaeDecodeS + (r.h264S ?? 0);
  const h264 = r.h264S !== undefined ? `H.264 ${r.h264S.toFixed(2)} s` : `H.264 skipped (${r.h264Skipped})`;
  return `${label} section: ${r.frames} frames of ${r.width}×${r.height}, ${(total / r.frames).toFixed(3)} s per output frame — ` +
    `sampling ${r.steps} steps ${r.samplingS.toFixed(2)} s, VAE encode ${r.vaeEncodeS.toFixed(2)} s, decode ${r.vaeDecodeS.toFixed(2)} s ` +
    `(${r.tiled ? 'tiled' : 'untiled'}, ${r.decodeCalls} calls, decoder ${r.decoderNetworkS.toFixed(2)} s), ${h264}, host RSS ${r.maxRssMiB} MiB`;
}
