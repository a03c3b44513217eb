// Conformance of the FramePack helper functions against tests/fixtures/golden/functions.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsStore } from '../engine/safetensors.ts';
import {
  calculateFluxMu, cropOrPadYieldMask, findNearestBucket, fluxSigmas, framesToUint8Grid, planSections,
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

/** A failed line for a case that threw: the set goes on with its other cases. */
export function errorLine(name: string, err: unknown): ConformanceLine {
  const message = (err instanceof Error ? err.message : String(err)).split('\n', 1)[0]!;
  return { name, maxAbs: Infinity, maxRel: Infinity, atol: 0, pass: false, note: `threw: ${message}` };
}

/** Runs one case; an exception becomes that case's FAIL line instead of ending the set. */
async function guarded(lines: ConformanceLine[], name: string, fn: () => ConformanceLine[] | Promise<ConformanceLine[]>): Promise<void> {
  try {
    lines.push(...(await fn()));
  } catch (err) {
    lines.push(errorLine(name, err));
  }
}

async function readTensor(store: SafetensorsStore, name: string): Promise<Tensor> {
  return { data: await store.readFloat32(name), dims: store.info(name).shape };
}

export async function runFunctionsConformance(dir: string): Promise<ConformanceLine[]> {
  const json = JSON.parse(await readFile(join(dir, 'functions.json'), 'utf8')) as FunctionsJson;
  const lines: ConformanceLine[] = [];

  for (const [i, c] of (json.flux ?? []).entries()) {
    await guarded(lines, `flux[${i}]`, () => [
      floatLine(`flux[${i}].mu`, [calculateFluxMu(c.seq_length)], [c.mu], 1e-12, `seq ${c.seq_length}`),
      floatLine(`flux[${i}].sigmas`, fluxSigmas(c.num_inference_steps, c.mu), c.sigmas_float32, 1e-6, `${c.num_inference_steps} steps`),
    ]);
  }

  for (const [i, c] of (json.latent_paddings ?? []).entries()) {
    const tag = `latent_paddings[${i}] (${c.total_second_length}s, window ${c.latent_window_size})`;
    await guarded(lines, tag, () => {
      const total = totalLatentSections(c.total_second_length, c.latent_window_size);
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
      return [
        exactLine(`${tag}.total_latent_sections`, total, c.total_latent_sections),
        exactLine(`${tag}.latent_paddings`, latentPaddings(total), c.latent_paddings),
        exactLine(`${tag}.sections`, got, want),
      ];
    });
  }

  for (const [i, c] of (json.find_nearest_bucket ?? []).entries()) {
    const tag = `find_nearest_bucket[${i}] (${c.h}x${c.w})`;
    await guarded(lines, tag, () => {
      const b = findNearestBucket(c.h, c.w);
      return [exactLine(tag, [b.height, b.width], c.bucket_hw)];
    });
  }

  let store: SafetensorsStore | undefined;
  let store8: SafetensorsStore | undefined;
  try {
    await guarded(lines, 'tensors.safetensors', async () => {
      store = await SafetensorsStore.open(join(dir, 'tensors.safetensors'));
      return [];
    });
    await guarded(lines, 'tensors_uint8.safetensors', async () => {
      store8 = await SafetensorsStore.open(join(dir, 'tensors_uint8.safetensors'));
      return [];
    });
    if (!store) return lines;
    const s = store;
    for (const c of json.crop_or_pad_yield_mask ?? []) {
      await guarded(lines, `crop_or_pad[${c.case}]`, async () => {
        const x = await readTensor(s, `crop_or_pad.${c.case}.in.x`);
        const { y, mask } = cropOrPadYieldMask(x, c.length);
        const wantY = await readTensor(s, `crop_or_pad.${c.case}.out.y`);
        const wantMask = [...(await s.readInt64(`crop_or_pad.${c.case}.out.mask`))].map(Number);
        return [
          exactLine(`crop_or_pad[${c.case}].y.shape`, y.dims, wantY.dims),
          floatLine(`crop_or_pad[${c.case}].y`, y.data, wantY.data, 0),
          exactLine(`crop_or_pad[${c.case}].mask`, [...mask], wantMask),
        ];
      });
    }
    for (const c of json.soft_append_bcthw ?? []) {
      const p = `soft_append.${c.case}`;
      await guarded(lines, p, async () => {
        const out = softAppendBcthw(await readTensor(s, `${p}.in.history`), await readTensor(s, `${p}.in.current`), c.overlap);
        const want = await readTensor(s, `${p}.out`);
        return [exactLine(`${p}.shape`, out.dims, want.dims), floatLine(`${p}.out`, out.data, want.data, 1e-6)];
      });
    }
    await guarded(lines, 'vae_decode_fake', async () => {
      const fake = vaeDecodeFake(await readTensor(s, 'vae_decode_fake.in.latents'));
      return [floatLine('vae_decode_fake.out', fake.data, (await readTensor(s, 'vae_decode_fake.out')).data, 1e-6)];
    });
    const s8 = store8;
    for (const name of s8 ? s8.keys().filter((k) => k.endsWith('.out.frames_uint8')) : []) {
      await guarded(lines, name, async () => {
        const x = await readTensor(s, name.replace('.out.frames_uint8', '.in.x'));
        const got = framesToUint8Grid(x);
        const want = await s8!.readRaw(name);
        const batch = x.dims[0]!;
        return [
          exactLine(`${name}.shape`, [got.frames, got.height, got.width, 3], s8!.info(name).shape),
          floatLine(name, got.data, want, 0, `uint8, exact${batch > 1 ? `, batch ${batch} as a grid` : ''}`),
        ];
      });
    }
  } finally {
    await (store as SafetensorsStore | undefined)?.close();
    await (store8 as SafetensorsStore | undefined)?.close();
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
