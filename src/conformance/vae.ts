// Conformance for AutoencoderKLHunyuanVideo golden sets: our encoder/decoder graphs, built from the
// set's config + weights, run on onnxruntime and compared with the PyTorch outputs in io.safetensors.
// The vectors are raw vae.decode / vae.encode (no scaling_factor, no tiling), so the raw graphs are compared.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsStore } from '../engine/safetensors.ts';
import { safetensorsWeights } from '../engine/onnx/weights.ts';
import { createSession, ort } from '../engine/runtime/session.ts';
import { parseVaeConfig, VAE_CLASS_NAME } from '../engine/vae/config.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../engine/vae/graphs.ts';
import type { ConformanceHandler, ConformanceLine } from './types.ts';

const ATOL = 1e-4;

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
  async detect(dir) {
    return existsSync(join(dir, 'io.safetensors')) && (await readConfigClass(dir)) === VAE_CLASS_NAME;
  },
  async run(dir) {
    const cfg = parseVaeConfig(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
    const weights = await SafetensorsStore.open(dir);
    const io = await SafetensorsStore.open(join(dir, 'io.safetensors'));
    try {
      const provider = safetensorsWeights(weights);
      const encoder = await createSession(await buildVaeEncoder(cfg, provider).graph.toBytes());
      const decoder = await createSession(await buildVaeDecoder(cfg, provider).graph.toBytes());
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
