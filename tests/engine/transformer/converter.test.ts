// Converter: official-format folders (sharded bf16 or single-file fp32) → ONNX model set.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTransformerInputs } from '../../../src/conformance/transformer.ts';
import { convertModelSet } from '../../../src/engine/conversion/convert.ts';
import { readManifest, updateManifest } from '../../../src/engine/modelset/manifest.ts';
import { componentConverters } from '../../../src/engine/conversion/registry.ts';
import { makeTinyModelSet } from '../../../src/engine/conversion/tiny.ts';
import { SafetensorsStore, writeSafetensors } from '../../../src/engine/safetensors.ts';
import { convertTransformer, makeTinyTransformer, transformerConverter } from '../../../src/engine/transformer/component.ts';
import { PackedTransformer, type Tensor, type TransformerInputs } from '../../../src/engine/transformer/runtime.ts';
import type { StorageDtype } from '../../../src/engine/onnx/weights.ts';

let root: string;
let inputs: TransformerInputs;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'recurvid-tr-conv-'));
  const io = await SafetensorsStore.open('tests/fixtures/golden/transformer/io.safetensors');
  inputs = await readTransformerInputs(io); // tiny config has the golden set's dims
  await io.close();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function runConverted(src: string, name: string, storage: StorageDtype): Promise<Tensor> {
  const out = join(root, name);
  const entry = await convertTransformer(src, out, { storage });
  await updateManifest(out, { components: { transformer: entry } });
  const t = await PackedTransformer.load(out);
  try {
    return await t.forward(inputs);
  } finally {
    await t.close();
  }
}

function compare(a: Tensor, b: Tensor): { maxAbs: number; relL2: number } {
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i]! - b.data[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    num += d * d;
    den += b.data[i]! * b.data[i]!;
  }
  return { maxAbs, relL2: Math.sqrt(num / den) };
}

describe('transformer converter', () => {
  it('a sharded bf16 checkpoint and a single-file fp32 one give the same outputs within bf16 tolerance', async () => {
    const fp32Src = join(root, 'src-fp32');
    const bf16Src = join(root, 'src-bf16');
    await makeTinyTransformer(fp32Src, 11, { dtype: 'fp32' });
    await makeTinyTransformer(bf16Src, 11, { dtype: 'bf16', shards: 3 });
    expect((await readdir(bf16Src)).filter((f) => f.endsWith('.safetensors'))).toHaveLength(3);

    const rssBefore = process.resourceUsage().maxRSS;
    const ref = await runConverted(fp32Src, 'out-fp32', 'fp32');
    const fromBf16 = await runConverted(bf16Src, 'out-bf16-as-fp32', 'fp32');
    const bf16Stored = await runConverted(bf16Src, 'out-bf16-as-bf16', 'bf16');
    const fp16Stored = await runConverted(fp32Src, 'out-fp32-as-fp16', 'fp16');
    const rssAfter = process.resourceUsage().maxRSS;
    console.log(`peak RSS (maxRSS) before converting: ${(rssBefore / 1024).toFixed(0)} MiB, after 4 conversions + runs: ${(rssAfter / 1024).toFixed(0)} MiB`);

    expect(ref.dims).toEqual([1, 16, 3, 10, 12]);
    const bf = compare(fromBf16, ref);
    const fp16 = compare(fp16Stored, ref);
    console.log(`bf16 checkpoint vs fp32: max abs ${bf.maxAbs.toExponential(3)}, rel L2 ${bf.relL2.toExponential(3)}; fp16 storage: max abs ${fp16.maxAbs.toExponential(3)}, rel L2 ${fp16.relL2.toExponential(3)}`);
    // bf16 keeps 8 mantissa bits (rel. 2^-9 per weight): the outputs differ, but only at that scale.
    expect(bf.relL2).toBeGreaterThan(1e-5);
    expect(bf.relL2).toBeLessThan(2e-2);
    expect(fp16.relL2).toBeLessThan(2e-3);
    // bf16 weights stored as bf16 lose nothing more.
    expect(compare(bf16Stored, fromBf16).maxAbs).toBeLessThan(1e-5);
  });

  it('writes a manifest entry with streamed source hashes, the config, dtype and graph list', async () => {
    const src = join(root, 'src-set');
    await makeTinyTransformer(src, 5, { dtype: 'bf16', shards: 2 });
    const out = join(root, 'set');
    const result = await convertModelSet({ sources: { framepack: src }, out, storage: 'fp16', converters: [transformerConverter] });
    expect(result.converted).toEqual(['transformer']);
    const m = await readManifest(out);
    const t = m.components.transformer!;
    expect(t.dtype).toBe('fp16');
    expect((t.config as Record<string, unknown>)._class_name).toBe('HunyuanVideoTransformer3DModelPacked');
    expect(Object.keys(t.files).sort()).toEqual(['blocks.0', 'blocks.1', 'blocks.2', 'blocks.3', 'embed', 'head']);
    expect(t.extra?.blockFiles).toEqual(['transformer/blocks_00.onnx', 'transformer/blocks_01.onnx', 'transformer/blocks_02.onnx', 'transformer/blocks_03.onnx']);
    expect(t.source.map((s) => s.path)).toEqual([
      'transformer/config.json',
      'transformer/diffusion_pytorch_model.safetensors.index.json',
      'transformer/diffusion_pytorch_model-00001-of-00002.safetensors',
      'transformer/diffusion_pytorch_model-00002-of-00002.safetensors',
    ]);
    const configHash = createHash('sha256').update(await readFile(join(src, 'config.json'))).digest('hex');
    expect(t.source[0]!.sha256).toBe(configHash);
    await expect(convertModelSet({ sources: {}, out, storage: 'fp32', converters: [transformerConverter] })).rejects.toThrow(/Nothing to convert/);
  });

  it('makeTinyModelSet makes and converts every registered converter, marked tiny', async () => {
    expect(componentConverters).toContain(transformerConverter);
    const out = join(root, 'tiny');
    const m = await makeTinyModelSet(out, { seed: 3, converters: [transformerConverter] });
    expect(m.tiny).toBe(true);
    expect(m.components.transformer?.dtype).toBe('fp32');
    const t = await PackedTransformer.load(out, { lowMemory: true });
    const y = await t.forward(inputs);
    await t.close();
    expect(y.dims).toEqual([1, 16, 3, 10, 12]);
    expect(y.data.every(Number.isFinite)).toBe(true);
  });

  describe('validate() refusals', () => {
    it('names a missing shard', async () => {
      const src = join(root, 'v-shard');
      await makeTinyTransformer(src, 1, { dtype: 'bf16', shards: 3 });
      await unlink(join(src, 'diffusion_pytorch_model-00002-of-00003.safetensors'));
      await expect(transformerConverter.validate(src)).rejects.toThrow(/diffusion_pytorch_model-00002-of-00003\.safetensors/);
    });

    it('refuses a missing or wrong config', async () => {
      const src = join(root, 'v-config');
      await makeTinyTransformer(src, 1);
      const cfg = JSON.parse(await readFile(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(src, 'config.json'), JSON.stringify({ ...cfg, _class_name: 'HunyuanVideoTransformer3DModel' }));
      await expect(transformerConverter.validate(src)).rejects.toThrow(/expected HunyuanVideoTransformer3DModelPacked/);
      await writeFile(join(src, 'config.json'), JSON.stringify({ ...cfg, has_clean_x_embedder: false }));
      await expect(transformerConverter.validate(src)).rejects.toThrow(/has_clean_x_embedder must be true/);
      await writeFile(join(src, 'config.json'), JSON.stringify({ ...cfg, rope_axes_dim: [4, 6, 8] }));
      await expect(transformerConverter.validate(src)).rejects.toThrow(/must sum to attention_head_dim 16/);
      await writeFile(join(src, 'config.json'), JSON.stringify({ ...cfg, num_attention_heads: 4 }));
      await expect(transformerConverter.validate(src)).rejects.toThrow(/x_embedder\.proj\.weight has shape/);
      await unlink(join(src, 'config.json'));
      await expect(transformerConverter.validate(src)).rejects.toThrow(/Missing .*config\.json/);
    });

    it('names a key the checkpoint lacks', async () => {
      const src = join(root, 'v-key');
      await makeTinyTransformer(src, 1);
      const store = await SafetensorsStore.open(src);
      const tensors: Parameters<typeof writeSafetensors>[1] = {};
      for (const k of store.keys()) {
        if (k === 'single_transformer_blocks.1.proj_out.bias') continue;
        const info = store.info(k);
        tensors[k] = { dtype: info.dtype, shape: info.shape, data: await store.readRaw(k) };
      }
      await store.close();
      await writeSafetensors(join(src, 'diffusion_pytorch_model.safetensors'), tensors);
      await expect(transformerConverter.validate(src)).rejects.toThrow(/lacks single_transformer_blocks\.1\.proj_out\.bias/);
    });
  });
});
