// The packed transformer against the golden PyTorch reference (tests/fixtures/golden/transformer).
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTransformerConformance, readTransformerInputs, transformerConformance, transformerTolerance } from '../../../src/conformance/transformer.ts';
import { findConformanceSets, runConformance } from '../../../src/cli/commands/conformance.ts';
import { SafetensorsStore } from '../../../src/engine/safetensors.ts';
import { convertTransformer } from '../../../src/engine/transformer/component.ts';
import { updateManifest } from '../../../src/engine/modelset/manifest.ts';
import { PackedTransformer, type TransformerInputs } from '../../../src/engine/transformer/runtime.ts';

const GOLDEN = 'tests/fixtures/golden/transformer';

describe('packed transformer conformance (golden set)', () => {
  it('matches out.sample, out2.sample and every dbg tensor at atol 1e-4', async () => {
    const lines = await runTransformerConformance(GOLDEN);
    for (const l of lines) console.log(`${l.name}: max abs ${l.maxAbs.toExponential(3)}, max rel ${l.maxRel.toExponential(3)}`);
    expect(lines.map((l) => l.name).sort()).toEqual(
      ['dbg.context', 'dbg.hidden_in', 'dbg.image_tokens', 'dbg.rope_freqs', 'dbg.teacache_modulated', 'dbg.temb', 'out.sample', 'out2.sample'].sort(),
    );
    for (const l of lines) {
      expect(l.atol).toBe(1e-4);
      expect(l.pass, `${l.name} max abs ${l.maxAbs}`).toBe(true);
    }
  });

  it('the CLI runner prints one line per output and a last PASS line; finds the set below the golden root', async () => {
    const out: string[] = [];
    expect(await runConformance(GOLDEN, (l) => out.push(l))).toBe(true);
    expect(out.at(-1)).toMatch(/^PASS 8 checks in 1 set/);
    const sets = await findConformanceSets('tests/fixtures/golden', [transformerConformance]);
    // The sampler's transformer/ folder has weights but no io.safetensors: not a transformer set.
    expect(sets.map((s) => s.dir)).toEqual([join('tests/fixtures/golden', 'transformer')]);
  });
});

describe('PackedTransformer runtime contract', () => {
  let dir: string;
  let inputs: TransformerInputs;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recurvid-tr-rt-'));
    // Three blocks per file: chunking must not change results.
    const entry = await convertTransformer(GOLDEN, dir, { storage: 'fp32', blocksPerFile: 3 });
    await updateManifest(dir, { components: { transformer: entry } });
    const io = await SafetensorsStore.open(join(GOLDEN, 'io.safetensors'));
    inputs = await readTransformerInputs(io);
    await io.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('chunked files and lowMemory give the reference output; blocks() keeps the hidden token sequence', async () => {
    const io = await SafetensorsStore.open(join(GOLDEN, 'io.safetensors'));
    const want = await io.readFloat32('out.sample');
    await io.close();
    const t = await PackedTransformer.load(dir, { lowMemory: true });
    expect(t.blockFileCount).toBe(2); // 4 blocks, 3 per file
    const e = await t.embed(inputs);
    expect(e.latentShape).toEqual([3, 5, 6]);
    expect(e.noisyTokens).toBe(90);
    expect(e.context.dims).toEqual([1, 5 + 9, 32]); // Ni + mask.sum()
    const after = await t.blocks(e);
    expect(after.dims).toEqual(e.hidden.dims);
    // TeaCache on a skip: hidden + previous residual reproduces the computed blocks exactly.
    const residual = after.data.map((v, i) => v - e.hidden.data[i]!);
    const replay = { data: e.hidden.data.map((v, i) => v + residual[i]!), dims: e.hidden.dims };
    const a = await t.head(e, after);
    const b = await t.head(e, replay);
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a.data[i]! - want[i]!), Math.abs(b.data[i]! - want[i]!));
    expect(maxAbs).toBeLessThan(1e-4);
    await t.close();
  });

  it('refuses inconsistent inputs with a clear message', async () => {
    const t = await PackedTransformer.load(dir);
    await expect(t.embed({ ...inputs, encoderAttentionMask: new Uint8Array(3).fill(1) })).rejects.toThrow(/encoderAttentionMask has 3 entries for 12/);
    await expect(t.embed({ ...inputs, latentIndices: [0, 1] })).rejects.toThrow(/latentIndices has 2 entries for 3 frames/);
    await t.close();
  });
});

describe('per-precision conformance against the same golden set (bounds from src/engine/transformer/README.md)', () => {
  const modes = [
    { precision: 'fp16' as const },
    { quant: 'int8' as const },
    { quant: 'int4' as const },
    { precision: 'fp16' as const, quant: 'int4' as const, blockSize: 32 as const },
    { quant: 'int8-dynamic' as const },
  ];
  it.each(modes)('%o stays within its max-abs and relative-L2 bounds on every compared tensor', async (mode) => {
    const tol = transformerTolerance(mode);
    const lines = await runTransformerConformance(GOLDEN, mode);
    expect(lines).toHaveLength(8);
    for (const l of lines) {
      console.log(`${JSON.stringify(mode)} ${l.name}: max abs ${l.maxAbs.toExponential(2)}, rel L2 ${l.relL2?.toExponential(2)}`);
      expect(l.relL2, l.name).toBeLessThanOrEqual(tol.relL2!);
      expect(l.maxAbs, l.name).toBeLessThanOrEqual(tol.atol);
      expect(l.pass, l.name).toBe(true);
    }
    // The reduced modes really differ from fp32 (the graphs changed), yet stay close.
    const sample = lines.find((l) => l.name === 'out.sample')!;
    expect(sample.maxAbs).toBeGreaterThan(1e-4);
  });

  it('a quantized set records its mode in manifest.json and its graphs use MatMulNBits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'recurvid-tr-q-'));
    try {
      const entry = await convertTransformer(GOLDEN, dir, { storage: 'fp32', precision: 'fp16', quant: { bits: 4, blockSize: 64 } });
      expect(entry).toMatchObject({ precision: 'fp16', quant: { bits: 4, blockSize: 64 }, dtype: 'fp16' });
      const model = onnxProto.onnx.ModelProto.decode(await readFile(join(dir, entry.files['blocks.0']!)));
      const ops = model.graph!.node!.map((n) => n.opType);
      expect(ops.filter((o) => o === 'MatMulNBits').length).toBeGreaterThanOrEqual(10); // every Linear of a dual block
      expect(ops).not.toContain('MatMul');
      // fp16 weights are used as stored: no Cast of an initializer.
      const inits = new Set(model.graph!.initializer!.map((t) => t.name));
      expect(model.graph!.node!.filter((n) => n.opType === 'Cast' && inits.has(n.input![0]!))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an int8-dynamic set uses DynamicQuantizeMatMul over int8 weights, keeps the CPU arena, names its mode, and refuses WebGPU', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'recurvid-tr-dq-'));
    try {
      const entry = await convertTransformer(GOLDEN, dir, { storage: 'fp32', quant: { scheme: 'int8-dynamic' } });
      expect(entry).toMatchObject({ precision: 'fp32', quant: { scheme: 'int8-dynamic' } });
      const model = onnxProto.onnx.ModelProto.decode(await readFile(join(dir, entry.files['blocks.0']!)));
      const ops = model.graph!.node!.map((n) => n.opType);
      expect(ops.filter((o) => o === 'DynamicQuantizeMatMul').length).toBeGreaterThanOrEqual(10);
      expect(model.graph!.initializer!.filter((t) => t.dataType === onnxProto.onnx.TensorProto.DataType.INT8).length).toBeGreaterThanOrEqual(10);
      await updateManifest(dir, { components: { transformer: entry } });
      const t = await PackedTransformer.load(dir);
      const d = t.describe();
      await t.close();
      expect(d.cpuMemArena).toBe(true);
      expect(d.compute).toMatch(/^fp32 \+ int8 dynamic; transformer: fp32 \+ int8 dynamic/);
      await expect(PackedTransformer.load(dir, { provider: 'webgpu' })).rejects.toThrow(/int8-dynamic, the CPU fast mode .*--preset gpu/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('conformance CLI modes', () => {
  it('a non-default mode runs the sets that have modes, says which it skipped, and ends in PASS', async () => {
    const out: string[] = [];
    expect(await runConformance('tests/fixtures/golden', (l) => out.push(l), { precision: 'fp16', quant: 'int8' })).toBe(true);
    expect(out).toContain('mode: fp16 int8/64 on cpu (fused attention)');
    expect(out.some((l) => l.startsWith('skip [sampler]'))).toBe(true);
    expect(out.filter((l) => l.startsWith('ok   [transformer]'))).toHaveLength(8);
    expect(out.filter((l) => l.startsWith('ok   [vae]'))).toHaveLength(5);
    expect(out.find((l) => l.includes('out.sample'))).toMatch(/rel L2 \d\.\d{3}e-\d+/);
    expect(out.at(-1)).toMatch(/^PASS 13 checks in 2 set/);
  });
});
