// Reading a golden case's io.safetensors the way every traced set lays it out: float tensors with
// their shapes, int64 index lists, and the sampling schedule (noise → sigmas for its latent shape,
// checked against the reference's own out.sigmas).
import type { SafetensorsStore } from '../engine/safetensors.ts';
import { sigmasForLatent, type Tensor } from '../engine/functions/index.ts';
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
