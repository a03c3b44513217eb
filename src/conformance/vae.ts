// Conformance for AutoencoderKLHunyuanVideo golden sets: our encoder/decoder graphs, built from the
// set's config + weights, run on onnxruntime and compared with the PyTorch outputs in io.safetensors.
// The vectors are raw vae.decode / vae.encode (no scaling_factor, no tiling), so the raw graphs are compared.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsStore } from '../engine/safetensors.ts';
import { PRECISION_COMPUTE, safetensorsWeights } from '../engine/onnx/weights.ts';
import { modeAttention, relativeL2, type ConformanceMode } from './modes.ts';
import { createSession, ort } from '../engine/runtime/session.ts';
import { parseVaeConfig, VAE_CLASS_NAME } from '../engine/vae/config.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../engine/vae/graphs.ts';
import type { ConformanceHandler, ConformanceLine } from './types.ts';

const ATOL = 1e-4;

/**
 * fp32 keeps the reference tolerance. fp16 (FramePack's own VAE dtype) is bounded by max abs and
 * relative L2 at about 2× the worst measured in src/engine/transformer/README.md's table.
 */
export function vaeTolerance(mode: ConformanceMode = {}): { atol: number; relL2?: number } {
  return (mode.precision ?? 'fp32') === 'fp16' ? { atol: 5e-2, relL2: 1.2e-2 } : { atol: ATOL };
}

const compareWithAtol = (name: string, actual: Float32Array, expected: Float32Array, atol = ATOL) => compareTensors(name, actual, expected, atol);

export function compareTensors(name: string, actual: Float32Array, expected: Float32Array, atol = ATOL): ConformanceLine {
  if (actual.length !== expected.length) {
    return { name, maxAbs: Infinity, maxRel: Infinity, atol, pass: false, note: `length ${actual.length} ≠ expected ${expected.length}` };
  }
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    const rel = d / Math.max(Math.abs(expected[i]!), 1e-6);
    if (rel > maxRel) maxRel = rel;
  }
  return { name, maxAbs, maxRel, atol, pass: maxAbs <= atol };
}

async function readConfigClass(dir: string): Promise<unknown> {
  try {
    return (JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { _class_name?: unknown })._class_name;
  } catch {
    return undefined;
  }
}

export const vaeConformance: ConformanceHandler = {
  kind: 'vae',
  modes: true,
  async detect(dir) {
    return existsSync(join(dir, 'io.safetensors')) && (await readConfigClass(dir)) === VAE_CLASS_NAME;
  },
  async run(dir, mode: ConformanceMode = {}) {
    const cfg = parseVaeConfig(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
    const weights = await SafetensorsStore.open(dir);
    const io = await SafetensorsStore.open(join(dir, 'io.safetensors'));
    const tol = vaeTolerance(mode);
    const compareTensors = (name: string, got: Float32Array, want: Float32Array): ConformanceLine => {
      const l = compareWithAtol(name, got, want, tol.atol);
      if (tol.relL2 === undefined || got.length !== want.length) return l;
      const r = relativeL2(got, want);
      return { ...l, relL2: r, pass: l.pass && r <= tol.relL2, note: `(rel L2 ${r.toExponential(2)} ≤ ${tol.relL2})` };
    };
    try {
      const provider = safetensorsWeights(weights);
      const binder = { compute: PRECISION_COMPUTE[mode.precision ?? 'fp32'], attention: modeAttention(mode) };
      const session = async (bytes: Uint8Array) => createSession(bytes, { provider: mode.provider ?? 'cpu' });
      const encoder = await session(await buildVaeEncoder(cfg, provider, binder).graph.toBytes());
      const decoder = await session(await buildVaeDecoder(cfg, provider, binder).graph.toBytes());
      const tensor = async (name: string) => new ort.Tensor('float32', await io.readFloat32(name), io.info(name).shape);
      const lines: ConformanceLine[] = [];

      const decoded = await decoder.run({ latents: await tensor('in.decode_latents') });
      lines.push(compareTensors('out.decoded', decoded.sample!.data as Float32Array, await io.readFloat32('out.decoded')));

      for (const [input, prefix] of [['in.encode_image', 'out.latent'], ['in.encode_image5', 'out.latent5']] as const) {
        const enc = await encoder.run({ pixels: await tensor(input) });
        lines.push(compareTensors(`${prefix}_mean`, enc.mean!.data as Float32Array, await io.readFloat32(`${prefix}_mean`)));
        lines.push(compareTensors(`${prefix}_logvar`, enc.logvar!.data as Float32Array, await io.readFloat32(`${prefix}_logvar`)));
      }
      await encoder.release();
      await decoder.release();
      return lines;
    } finally {
      await weights.close();
      await io.close();
    }
  },
};
