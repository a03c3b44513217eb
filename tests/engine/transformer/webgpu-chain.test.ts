// WebGPU (Mesa lavapipe in CI): embed → blocks → head chained through `gpu-buffer` tensors, TeaCache
// on the device. Velocities must match the per-session CPU path, TeaCache decisions the golden traces,
// and a step may move only the per-step inputs, the velocity and TeaCache's two sums.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTransformerInputs } from '../../../src/conformance/transformer.ts';
import { runSamplerCase } from '../../../src/conformance/sampler.ts';
import { runMagCacheCase } from '../../../src/conformance/magcache.ts';
import { updateManifest } from '../../../src/engine/modelset/manifest.ts';
import { SafetensorsStore } from '../../../src/engine/safetensors.ts';
import { convertTransformer } from '../../../src/engine/transformer/component.ts';
import { PackedTransformer, type TransformerInputs } from '../../../src/engine/transformer/runtime.ts';
import { TeaCache } from '../../../src/engine/sampler/teacache.ts';

process.env.XDG_RUNTIME_DIR ??= '/tmp/xdg';
mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true });

const GOLDEN = 'tests/fixtures/golden/transformer';
const SAMPLER = 'tests/fixtures/golden/sampler';
const MAGCACHE = 'tests/fixtures/golden/magcache';

describe('WebGPU chained transformer (lavapipe)', () => {
  let dir: string;
  let cpuDir: string;
  let samplerDir: string;
  let inputs: TransformerInputs;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recurvid-chain-'));
    // Composed attention: onnxruntime 1.30's WebGPU MultiHeadAttention is wrong from 32 keys up
    // (tests/engine/runtime/webgpu.test.ts pins it); the CPU reference below uses the fused kernel.
    cpuDir = await mkdtemp(join(tmpdir(), 'recurvid-chain-cpu-'));
    await updateManifest(cpuDir, { components: { transformer: await convertTransformer(GOLDEN, cpuDir, { storage: 'fp32' }) } });
    await updateManifest(dir, { components: { transformer: await convertTransformer(GOLDEN, dir, { storage: 'fp32', attention: 'composed' }) } });
    samplerDir = await mkdtemp(join(tmpdir(), 'recurvid-chain-sampler-'));
    await updateManifest(samplerDir, {
      components: { transformer: await convertTransformer(join(SAMPLER, 'transformer'), samplerDir, { storage: 'fp32', attention: 'composed' }) },
    });
    const io = await SafetensorsStore.open(join(GOLDEN, 'io.safetensors'));
    inputs = await readTransformerInputs(io);
    await io.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(cpuDir, { recursive: true, force: true });
    await rm(samplerDir, { recursive: true, force: true });
  });

  it('gives the per-session velocity; per step only inputs, velocity and scalars cross', async () => {
    const cpu = await PackedTransformer.load(cpuDir, { groupSize: 1 });
    const want = (await cpu.forward(inputs)).data;
    await cpu.close();
    // The same sessions on WebGPU, every tensor back to the host in between (no chaining).
    const unchained = await PackedTransformer.load(dir, { provider: 'webgpu', groupSize: 1 });
    const e = await unchained.embed(inputs);
    const perSession = (await unchained.head(e, await unchained.blocks(e))).data;
    await unchained.close();
    for (const opts of [{}, { lowMemory: true }]) {
      const gpu = await PackedTransformer.load(dir, { provider: 'webgpu', chainOnDevice: true, ...opts });
      try {
        expect(gpu.chained).toBe(true);
        await expect(gpu.embed(inputs)).rejects.toThrow(/runStep/);
        const first = (await gpu.runStep!(inputs)).data;
        const firstTraffic = gpu.takeTraffic();
        let vsSessions = 0;
        let vsCpu = 0;
        for (let i = 0; i < want.length; i++) {
          vsSessions = Math.max(vsSessions, Math.abs(first[i]! - perSession[i]!));
          vsCpu = Math.max(vsCpu, Math.abs(first[i]! - want[i]!));
        }
        // Chaining changes where tensors live, not the kernels: same result as per-session WebGPU.
        expect(vsSessions, JSON.stringify(opts)).toBeLessThan(1e-5);
        // The fp32 conformance bound (golden tolerance 1e-4).
        expect(vsCpu, JSON.stringify(opts)).toBeLessThan(1e-4);
        // Second call of the same section: text, image and clean latents are already on the device.
        const second = (await gpu.runStep!({ ...inputs, timestep: 500 })).data;
        const t = gpu.takeTraffic();
        expect(second.length).toBe(want.length);
        const perStepInputs = inputs.hiddenStates.data.byteLength + 4 + 4 + inputs.encoderAttentionMask.length * 4 +
          8 * (inputs.latentIndices.length + inputs.cleanLatentIndices.length + inputs.cleanLatent2xIndices.length + inputs.cleanLatent4xIndices.length);
        expect(t.toDevice - t.weights).toBe(perStepInputs + 24); // + latent_shape handed to the head
        expect(t.toHost).toBe(want.byteLength + 24); // the velocity and latent_shape (int64 [3])
        expect(firstTraffic.toDevice).toBeGreaterThan(t.toDevice); // the section constants went up once
      } finally {
        await gpu.close();
      }
    }
  });

  it('TeaCache on the device takes the golden decisions', async () => {
    const gpu = await PackedTransformer.load(samplerDir, { provider: 'webgpu', chainOnDevice: true });
    try {
      for (const name of ['teacache', 'teacache_thresh_0.3']) {
        const lines = await runSamplerCase(join(SAMPLER, name), gpu, name);
        const decisions = lines.find((l) => l.name === `${name}.teacache.computed`)!;
        expect(decisions.pass, name).toBe(true);
        // The sampler conformance's own tolerances: rel_l1 1e-4, latents 2e-4.
        for (const l of lines.filter((x) => x.name.endsWith('rel_l1') || x.name.endsWith('out.latents'))) expect(l.pass, `${l.name} ${l.maxAbs}`).toBe(true);
      }
    } finally {
      await gpu.close();
    }
  });

  it('MagCache on the device takes the golden decisions and reuses the residual kept there', async () => {
    const gpu = await PackedTransformer.load(samplerDir, { provider: 'webgpu', chainOnDevice: true });
    try {
      for (const name of ['magcache', 'magcache_thresh_0.2_skips_3_ret_0.2']) {
        const lines = await runMagCacheCase(join(MAGCACHE, name), name, gpu, { recordBlocks: false });
        for (const check of ['steps_skipped_list', 'decisions (call, step, eligible, skipped, reused from)']) {
          const l = lines.find((x) => x.name === `${name}.${check}`)!;
          expect(l.pass, `${name} ${check} ${l.note ?? ''}`).toBe(true);
        }
        // Skipped calls used the device's residual: the sampled latents hold the set's tolerance.
        const latents = lines.find((l) => l.name === `${name}.out.latents`)!;
        expect(latents.pass, `${name} latents ${latents.maxAbs}`).toBe(true);
      }
    } finally {
      await gpu.close();
    }
  });

  it('device and host TeaCache agree on when to compute', async () => {
    const host = new TeaCache(4, 0.15);
    const device = new TeaCache(4, 0.15);
    const a = Float32Array.of(1, 2, 3);
    const b = Float32Array.of(1.1, 2, 3);
    for (const m of [a, b, a, b]) {
      const h = host.decide(m);
      const d = await device.decideWith(device.trace.length > 0, async () => host.trace.at(-1)!.relL1!);
      expect(d).toBe(h);
    }
  });
});
