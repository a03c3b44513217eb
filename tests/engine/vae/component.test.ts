// The VAE component converter (validation messages, tiny weights in the official layout, conversion)
// and the runtime API on a converted golden folder: FramePack's scaling applied on top of the raw graphs.
import { describe, expect, it, beforeAll } from 'vitest';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { componentConverters } from '../../../src/engine/conversion/registry.ts';
import { readManifest, updateManifest } from '../../../src/engine/modelset/manifest.ts';
import { SafetensorsStore } from '../../../src/engine/safetensors.ts';
import { parseVaeConfig } from '../../../src/engine/vae/config.ts';
import { TINY_VAE_CONFIG, vaeConverter } from '../../../src/engine/vae/component.ts';
import { vaeParameterShapes } from '../../../src/engine/vae/params.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../../src/engine/vae/graphs.ts';
import { shapeOnlyWeights } from '../../../src/engine/onnx/weights.ts';
import { writeSafetensors } from '../../../src/engine/safetensors.ts';
import { HunyuanVae } from '../../../src/engine/vae/runtime.ts';
import { maxAbsDiff, type Tensor } from '../../../src/engine/vae/tensor.ts';

const GOLDEN = join(import.meta.dirname, '../../fixtures/golden/vae');

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'recurvid-vae-'));
}

async function goldenTensor(io: SafetensorsStore, name: string): Promise<Tensor> {
  return { data: await io.readFloat32(name), dims: io.info(name).shape };
}

describe('vae converter validation', () => {
  it('is registered for hunyuan/vae', () => {
    expect(componentConverters).toContain(vaeConverter);
    expect(vaeConverter.source).toEqual({ repo: 'hunyuan', subdir: 'vae' });
    expect(vaeConverter.components).toEqual(['vae']);
  });

  it('names the missing config.json', async () => {
    const dir = await tmp();
    await expect(vaeConverter.validate(dir)).rejects.toThrow(/has no config\.json/);
    await rm(dir, { recursive: true });
  });

  it('names the missing weights file', async () => {
    const dir = await tmp();
    await copyFile(join(GOLDEN, 'config.json'), join(dir, 'config.json'));
    await expect(vaeConverter.validate(dir)).rejects.toThrow(/has no weights: expected diffusion_pytorch_model\.safetensors\.index\.json or diffusion_pytorch_model\.safetensors/);
    await rm(dir, { recursive: true });
  });

  it('refuses a config of another class, naming it', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'config.json'), JSON.stringify({ _class_name: 'AutoencoderKL', block_out_channels: [8] }));
    await copyFile(join(GOLDEN, 'diffusion_pytorch_model.safetensors'), join(dir, 'diffusion_pytorch_model.safetensors'));
    await expect(vaeConverter.validate(dir)).rejects.toThrow(/_class_name "AutoencoderKL", expected AutoencoderKLHunyuanVideo/);
    await rm(dir, { recursive: true });
  });

  it('refuses weights that do not fit the config, naming the tensor', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'config.json'), JSON.stringify(TINY_VAE_CONFIG));
    const file = join(dir, 'diffusion_pytorch_model.safetensors');
    const oneFloat = { dtype: 'F32' as const, shape: [1], data: new Uint8Array(4) };
    await writeSafetensors(file, { 'quant_conv.weight': oneFloat });
    await vaeConverter.validate(dir);
    await expect(vaeConverter.convert(dir, join(dir, 'out'), { storage: 'fp32' })).rejects.toThrow(/lack encoder\.conv_in\.conv\.weight/);
    await writeSafetensors(file, { 'encoder.conv_in.conv.weight': oneFloat });
    await expect(vaeConverter.convert(dir, join(dir, 'out'), { storage: 'fp32' })).rejects.toThrow(
      /encoder\.conv_in\.conv\.weight .* has shape \[1\], config\.json implies \[8, 3, 3, 3, 3\]/,
    );
    await rm(dir, { recursive: true });
  });

  it('accepts the golden folder (official layout)', async () => {
    await expect(vaeConverter.validate(GOLDEN)).resolves.toBeUndefined();
  });
});

describe('vae tiny weights', () => {
  it('uses exactly the official key layout and shapes (checked against the golden checkpoint)', async () => {
    const store = await SafetensorsStore.open(GOLDEN);
    const cfg = parseVaeConfig(JSON.parse(await readFile(join(GOLDEN, 'config.json'), 'utf8')));
    const shapes = vaeParameterShapes(cfg);
    expect([...shapes.keys()].sort()).toEqual(store.keys());
    for (const k of store.keys()) expect(shapes.get(k), k).toEqual(store.info(k).shape);
    await store.close();
  });

  it('builds the full-size HunyuanVideo VAE graphs, using every parameter of the official layout', () => {
    const cfg = parseVaeConfig({ _class_name: 'AutoencoderKLHunyuanVideo', latent_channels: 16 }); // diffusers defaults
    const shapes = vaeParameterShapes(cfg);
    const enc = buildVaeEncoder(cfg, shapeOnlyWeights(shapes));
    const dec = buildVaeDecoder(cfg, shapeOnlyWeights(shapes));
    expect(new Set([...enc.used, ...dec.used])).toEqual(new Set(shapes.keys()));
    const params = enc.graph.parameterCount + dec.graph.parameterCount;
    console.log(`full-size VAE: ${shapes.size} tensors, ${params} parameters`);
    expect(params).toBe([...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0));
    expect(shapes.get('decoder.up_blocks.0.resnets.2.conv2.conv.weight')).toEqual([512, 512, 3, 3, 3]);
    expect(shapes.get('encoder.conv_out.conv.weight')).toEqual([32, 512, 3, 3, 3]);
  });

  it('is seeded: same seed same bytes, other seed other weights', async () => {
    const [a, b, c] = [await tmp(), await tmp(), await tmp()];
    await vaeConverter.makeTiny(a, 3);
    await vaeConverter.makeTiny(b, 3);
    await vaeConverter.makeTiny(c, 4);
    const file = 'diffusion_pytorch_model.safetensors';
    const [ba, bb, bc] = (await Promise.all([a, b, c].map((d) => readFile(join(d, file))))) as [Buffer, Buffer, Buffer];
    expect(ba.equals(bb)).toBe(true);
    expect(ba.equals(bc)).toBe(false);
    expect(JSON.parse(await readFile(join(a, 'config.json'), 'utf8'))).toEqual(TINY_VAE_CONFIG);
    await vaeConverter.validate(a);
    for (const d of [a, b, c]) await rm(d, { recursive: true });
  });
});

describe('vae conversion and runtime', () => {
  let out: string;
  let vae: HunyuanVae;
  let io: SafetensorsStore;

  beforeAll(async () => {
    out = await tmp();
    const [entry] = await vaeConverter.convert(GOLDEN, out, { storage: 'fp32' });
    await updateManifest(out, { name: 'golden-vae', components: { vae: entry! } });
    vae = await HunyuanVae.load(out);
    io = await SafetensorsStore.open(join(GOLDEN, 'io.safetensors'));
    return async () => {
      await vae.close();
      await io.close();
      await rm(out, { recursive: true });
    };
  });

  it('writes encoder/decoder graphs and a manifest entry with source hashes', async () => {
    const m = await readManifest(out);
    const entry = m.components.vae!;
    expect(entry.files).toEqual({ encoder: 'vae/encoder.onnx', decoder: 'vae/decoder.onnx' });
    for (const f of Object.values(entry.files)) expect(existsSync(join(out, f))).toBe(true);
    expect(entry.source.map((s) => s.path)).toEqual(['vae/config.json', 'vae/diffusion_pytorch_model.safetensors']);
    for (const s of entry.source) expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((entry.config as { _class_name: string })._class_name).toBe('AutoencoderKLHunyuanVideo');
    expect(vae.scalingFactor).toBe(0.476986);
  });

  it('encode = latent_dist.mean × scaling_factor (golden), deterministic by default', async () => {
    for (const [input, mean] of [['in.encode_image', 'out.latent_mean'], ['in.encode_image5', 'out.latent5_mean']]) {
      const z = await vae.encode(await goldenTensor(io, input!));
      const expected = await goldenTensor(io, mean!);
      expect(z.dims).toEqual(expected.dims);
      const scaled = { data: expected.data.map((v) => v * 0.476986), dims: expected.dims };
      expect(maxAbsDiff(z, scaled)).toBeLessThan(1e-4);
    }
  });

  it('encode with a seed draws mean + std·noise reproducibly', async () => {
    const px = await goldenTensor(io, 'in.encode_image');
    const mean = await vae.encode(px);
    const s1 = await vae.encode(px, { sampleSeed: 5 });
    const s2 = await vae.encode(px, { sampleSeed: 5 });
    const s3 = await vae.encode(px, { sampleSeed: 6 });
    expect(maxAbsDiff(s1, s2)).toBe(0);
    expect(maxAbsDiff(s1, s3)).toBeGreaterThan(1e-3);
    // noise / (std · scaling) must look standard normal
    const logvar = await goldenTensor(io, 'out.latent_logvar');
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < s1.data.length; i++) {
      const eps = (s1.data[i]! - mean.data[i]!) / (Math.exp(0.5 * logvar.data[i]!) * 0.476986);
      sum += eps;
      sq += eps * eps;
    }
    const n = s1.data.length;
    expect(Math.abs(sum / n)).toBeLessThan(0.2);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.2);
  });

  it('decode divides by scaling_factor first (golden), and checks its input', async () => {
    const z = await goldenTensor(io, 'in.decode_latents');
    const scaled = { data: z.data.map((v) => v * 0.476986), dims: z.dims };
    const px = await vae.decode(scaled);
    const expected = await goldenTensor(io, 'out.decoded');
    expect(px.dims).toEqual([1, 3, 9, 32, 48]);
    expect(maxAbsDiff(px, expected)).toBeLessThan(1e-4);
    await expect(vae.decode({ data: new Float32Array(8), dims: [1, 8, 1, 1, 1] })).rejects.toThrow(/latents must be \[B, 16, T, H, W\]/);
  });

  it('refuses pixels whose size is not a multiple of 8', async () => {
    await expect(vae.encode({ data: new Float32Array(3 * 12 * 16), dims: [1, 3, 1, 12, 16] })).rejects.toThrow(/divisible by 8; got 12×16/);
  });

  it('refuses a model set without a vae', async () => {
    const dir = await tmp();
    await mkdir(dir, { recursive: true });
    await updateManifest(dir, { components: {} });
    await expect(HunyuanVae.load(dir)).rejects.toThrow(/has no vae component/);
    await rm(dir, { recursive: true });
  });
});
