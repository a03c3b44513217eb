// FramePack's fm_wrapper (k_diffusion/wrapper.py): turns a velocity-predicting transformer into the
// x0 denoiser UniPC needs, with real classifier-free guidance and CFG re-scale when cfg ≠ 1.
import type { Denoiser } from './unipc.ts';

const f = Math.fround;

export type GuidanceBranch = 'positive' | 'negative';

/** The transformer's flow (velocity) prediction for latent x at `timestep` (σ·1000, float32). */
export type VelocityModel = (x: Float32Array, timestep: number, branch: GuidanceBranch, stepIndex: number) => Promise<Float32Array>;

export interface GuidanceOptions {
  /** Real CFG scale; 1 means one transformer call per step. */
  cfg: number;
  /** 0–1 blend towards the std-matched prediction, only with cfg ≠ 1. */
  cfgRescale: number;
}

/** torch.std (unbiased) of a flat array, in double. */
function std(a: Float32Array): number {
  let mean = 0;
  for (let i = 0; i < a.length; i++) mean += a[i]!;
  mean /= a.length;
  let ss = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - mean;
    ss += d * d;
  }
  return Math.sqrt(ss / Math.max(1, a.length - 1));
}

/** pred_neg + cfg·(pred_pos − pred_neg), optionally re-scaled towards pred_pos's std (Lin et al.). */
export function combineGuidance(pos: Float32Array, neg: Float32Array, cfg: number, rescale: number): Float32Array {
  const out = new Float32Array(pos.length);
  for (let i = 0; i < pos.length; i++) out[i] = neg[i]! + cfg * (pos[i]! - neg[i]!);
  if (rescale === 0) return out;
  const ratio = std(pos) / std(out);
  for (let i = 0; i < out.length; i++) out[i] = rescale * out[i]! * ratio + (1 - rescale) * out[i]!;
  return out;
}

export function flowMatchDenoiser(model: VelocityModel, opts: GuidanceOptions, tScale = 1000): Denoiser {
  return async (x, sigma, stepIndex) => {
    const timestep = f(sigma * tScale);
    const pos = await model(x, timestep, 'positive', stepIndex);
    // With cfg = 1 the reference adds cfg·(pos − 0) to zeros: the prediction is pos itself.
    const pred = opts.cfg === 1 ? pos : combineGuidance(pos, await model(x, timestep, 'negative', stepIndex), opts.cfg, opts.cfgRescale);
    const x0 = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) x0[i] = x[i]! - pred[i]! * sigma;
    return x0;
  };
}
