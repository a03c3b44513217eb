// Conformance of the FramePack helper functions against tests/fixtures/golden/functions.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsStore } from '../engine/safetensors.ts';
import {
  calculateFluxMu, cropOrPadYieldMask, findNearestBucket, fluxSigmas, framesToUint8, planSections,
  softAppendBcthw, totalLatentSections, latentPaddings, vaeDecodeFake, type Tensor,
} from '../engine/functions/index.ts';
import type { ConformanceHandler, ConformanceLine } from './types.ts';

interface FluxCase { num_inference_steps: number; seq_length: number; mu: number; sigmas_float32: number[] }
interface SectionCase {
  latent_padding: number; is_last_section: boolean; latent_padding_size: number; latent_indices: number[];
  clean_latent_indices: number[]; clean_latent_2x_indices: number[]; clean_latent_4x_indices: number[];
}
interface PaddingCase { total_second_length: number; latent_window_size: number; total_latent_sections: number; latent_paddings: number[]; sections: SectionCase[] }
interface BucketCase { h: number; w: number; bucket_hw: [number, number] }
interface CropCase { case: number; length: number }
interface SoftCase { case: number; overlap: number }
interface FunctionsJson {
  flux: FluxCase[];
  latent_paddings: PaddingCase[];
  find_nearest_bucket: BucketCase[];
  crop_or_pad_yield_mask: CropCase[];
  soft_append_bcthw: SoftCase[];
}

/** Float comparison line: max abs / rel error against the reference. */
export function floatLine(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, note?: string): ConformanceLine {
  let maxAbs = got.length === want.length ? 0 : Infinity;
  let maxRel = maxAbs;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(want[i]!), 1e-12));
  }
  return { name, maxAbs, maxRel, atol, pass: maxAbs <= atol, ...(note ? { note } : {}) };
}

/** Exact comparison line for integers / decisions. */
export function exactLine(name: string, got: unknown, want: unknown): ConformanceLine {
  const same = JSON.stringify(got) === JSON.stringify(want);
  return { name, maxAbs: same ? 0 : 1, maxRel: same ? 0 : 1, atol: 0, pass: same, ...(same ? {} : { note: `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}` }) };
}

async function readTensor(store: SafetensorsStore, name: string): Promise<Tensor> {
  return { data: await store.readFloat32(name), dims: store.info(name).shape };
}

export async function runFunctionsConformance(dir: string): Promise<ConformanceLine[]> {
  const json = JSON.parse(await readFile(join(dir, 'functions.json'), 'utf8')) as FunctionsJson;
  const lines: ConformanceLine[] = [];

  json.flux.forEach((c, i) => {
    const mu = calculateFluxMu(c.seq_length);
    lines.push(floatLine(`flux[${i}].mu`, [mu], [c.mu], 1e-12, `seq ${c.seq_length}`));
    lines.push(floatLine(`flux[${i}].sigmas`, fluxSigmas(c.num_inference_steps, c.mu), c.sigmas_float32, 1e-6, `${c.num_inference_steps} steps`));
  });

  json.latent_paddings.forEach((c, i) => {
    const tag = `latent_paddings[${i}] (${c.total_second_length}s, window ${c.latent_window_size})`;
    const total = totalLatentSections(c.total_second_length, c.latent_window_size);
    lines.push(exactLine(`${tag}.total_latent_sections`, total, c.total_latent_sections));
    lines.push(exactLine(`${tag}.latent_paddings`, latentPaddings(total), c.latent_paddings));
    const got = planSections(c.total_second_length, c.latent_window_size).map((s) => ({
      latent_padding: s.latentPadding, is_last_section: s.isLastSection, latent_padding_size: s.latentPaddingSize,
      latent_indices: s.latentIndices, clean_latent_indices: s.cleanLatentIndices,
      clean_latent_2x_indices: s.cleanLatent2xIndices, clean_latent_4x_indices: s.cleanLatent4xIndices,
    }));
    const want = c.sections.map((s) => ({
      latent_padding: s.latent_padding, is_last_section: s.is_last_section, latent_padding_size: s.latent_padding_size,
      latent_indices: s.latent_indices, clean_latent_indices: s.clean_latent_indices,
      clean_latent_2x_indices: s.clean_latent_2x_indices, clean_latent_4x_indices: s.clean_latent_4x_indices,
    }));
    lines.push(exactLine(`${tag}.sections`, got, want));
  });

  json.find_nearest_bucket.forEach((c, i) => {
    const b = findNearestBucket(c.h, c.w);
    lines.push(exactLine(`find_nearest_bucket[${i}] (${c.h}x${c.w})`, [b.height, b.width], c.bucket_hw));
  });

  const store = await SafetensorsStore.open(join(dir, 'tensors.safetensors'));
  const store8 = await SafetensorsStore.open(join(dir, 'tensors_uint8.safetensors'));
  try {
    for (const c of json.crop_or_pad_yield_mask) {
      const x = await readTensor(store, `crop_or_pad.${c.case}.in.x`);
      const { y, mask } = cropOrPadYieldMask(x, c.length);
      const wantY = await readTensor(store, `crop_or_pad.${c.case}.out.y`);
      lines.push(exactLine(`crop_or_pad[${c.case}].y.shape`, y.dims, wantY.dims));
      lines.push(floatLine(`crop_or_pad[${c.case}].y`, y.data, wantY.data, 0));
      lines.push(exactLine(`crop_or_pad[${c.case}].mask`, [...mask], [...(await store.readInt64(`crop_or_pad.${c.case}.out.mask`))].map(Number)));
    }
    for (const c of json.soft_append_bcthw) {
      const p = `soft_append.${c.case}`;
      const out = softAppendBcthw(await readTensor(store, `${p}.in.history`), await readTensor(store, `${p}.in.current`), c.overlap);
      const want = await readTensor(store, `${p}.out`);
      lines.push(exactLine(`${p}.shape`, out.dims, want.dims));
      lines.push(floatLine(`${p}.out`, out.data, want.data, 1e-6));
    }
    const fake = vaeDecodeFake(await readTensor(store, 'vae_decode_fake.in.latents'));
    lines.push(floatLine('vae_decode_fake.out', fake.data, (await readTensor(store, 'vae_decode_fake.out')).data, 1e-6));
    for (const name of store8.keys().filter((k) => k.endsWith('.out.frames_uint8'))) {
      const inName = name.replace('.out.frames_uint8', '.in.x');
      const got = framesToUint8(await readTensor(store, inName));
      const want = await store8.readRaw(name);
      lines.push(floatLine(name, got, want, 0, 'uint8, exact'));
    }
  } finally {
    await store.close();
    await store8.close();
  }
  return lines;
}

export const functionsConformance: ConformanceHandler = {
  kind: 'functions',
  async detect(dir) {
    return existsSync(join(dir, 'functions.json')) && existsSync(join(dir, 'tensors.safetensors'));
  },
  run: runFunctionsConformance,
};
