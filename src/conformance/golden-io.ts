// Reading a golden case's io.safetensors the way every traced set lays it out: float tensors with
// their shapes, int64 index lists, the sampling schedule (noise → sigmas for its latent shape,
// checked against the reference's own out.sigmas) and the section context; and sampling a case
// with UniPC while recording what the reference traced (timesteps, every step's x and denoised).
import type { SafetensorsStore } from '../engine/safetensors.ts';
import { sigmasForLatent, type Tensor } from '../engine/functions/index.ts';
import { flowMatchDenoiser, sampleUniPC, type SectionContext, type VelocityModel } from '../engine/sampler/index.ts';
import { floatLine } from './functions.ts';
import type { ConformanceLine } from './types.ts';

export async function tensorOf(store: SafetensorsStore, name: string): Promise<Tensor> {
  return { data: await store.readFloat32(name), dims: store.info(name).shape };
}

export async function intsOf(store: SafetensorsStore, name: string): Promise<number[]> {
  return [...(await store.readInt64(name))].map(Number);
}

export interface GoldenSchedule {
  noise: Tensor;
  latentShape: [number, number, number];
  steps: number;
  sigmas: Float32Array;
  /** Our sigmas against the reference's out.sigmas. */
  sigmasLine: ConformanceLine;
}

/** The case's noise, step count (from out.model_timesteps) and flux-shifted sigmas. */
export async function readGoldenSchedule(io: SafetensorsStore, label: string): Promise<GoldenSchedule> {
  const noise = await tensorOf(io, 'in.noise');
  const [, , t, h, w] = noise.dims as [number, number, number, number, number];
  const steps = (await io.readFloat32('out.model_timesteps')).length;
  const sigmas = sigmasForLatent(steps, t, h, w);
  return { noise, latentShape: [t, h, w], steps, sigmas, sigmasLine: floatLine(`${label}.sigmas`, sigmas, await io.readFloat32('out.sigmas'), 1e-6) };
}

/** The section's packed context as the traced sets store it (in.latent_indices, in.clean_latents*…). */
export async function readSectionContext(io: SafetensorsStore, [t, h, w]: [number, number, number]): Promise<SectionContext> {
  return {
    latentDims: [1, 16, t, h, w],
    latentIndices: await intsOf(io, 'in.latent_indices'),
    cleanLatents: await tensorOf(io, 'in.clean_latents'),
    cleanLatentIndices: await intsOf(io, 'in.clean_latent_indices'),
    cleanLatents2x: await tensorOf(io, 'in.clean_latents_2x'),
    cleanLatent2xIndices: await intsOf(io, 'in.clean_latent_2x_indices'),
    cleanLatents4x: await tensorOf(io, 'in.clean_latents_4x'),
    cleanLatent4xIndices: await intsOf(io, 'in.clean_latent_4x_indices'),
  };
}

export interface TracedSampling {
  /** The timesteps the model was called with against out.model_timesteps. */
  timestepsLine: ConformanceLine;
  /** Every step's x and denoised, then the final latents, against out.x.i / out.denoised.i / out.latents. */
  stepLines: ConformanceLine[];
}

/** UniPC over the schedule with cfg 1, as the traced sets were made, every step compared at `atol`. */
export async function sampleAgainstGolden(
  io: SafetensorsStore,
  label: string,
  velocity: VelocityModel,
  schedule: GoldenSchedule,
  atol: number,
): Promise<TracedSampling> {
  const timesteps: number[] = [];
  const xs: Float32Array[] = [];
  const denoised: Float32Array[] = [];
  const model: VelocityModel = (x, ts, b, i) => {
    timesteps.push(ts);
    return velocity(x, ts, b, i);
  };
  const latents = await sampleUniPC({
    noise: schedule.noise.data, sigmas: schedule.sigmas, denoise: flowMatchDenoiser(model, { cfg: 1, cfgRescale: 0 }),
    onStep: (s) => { xs.push(Float32Array.from(s.x)); denoised.push(s.denoised); },
  });
  const stepLines: ConformanceLine[] = [];
  for (let i = 0; i < schedule.steps; i++) {
    stepLines.push(floatLine(`${label}.out.x.${i}`, xs[i] ?? [], await io.readFloat32(`out.x.${i}`), atol));
    stepLines.push(floatLine(`${label}.out.denoised.${i}`, denoised[i] ?? [], await io.readFloat32(`out.denoised.${i}`), atol));
  }
  stepLines.push(floatLine(`${label}.out.latents`, latents, await io.readFloat32('out.latents'), atol));
  return { timestepsLine: floatLine(`${label}.model_timesteps`, timesteps, await io.readFloat32('out.model_timesteps'), 1e-3), stepLines };
}
