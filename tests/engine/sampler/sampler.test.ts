import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SafetensorsStore } from '../../../src/engine/safetensors.ts';
import { sigmasForLatent } from '../../../src/engine/functions/index.ts';
import {
  sampleUniPC, flowMatchDenoiser, combineGuidance, TeaCache, teacacheRescale, bindVelocityModel,
  type StagedTransformer, type EmbedLike,
} from '../../../src/engine/sampler/index.ts';

const GOLDEN = 'tests/fixtures/golden/sampler';

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('UniPC sampler (replaying golden x0 predictions)', () => {
  it('reproduces the sigma schedule and every out.x.i of sampler/plain', async () => {
    const io = await SafetensorsStore.open(`${GOLDEN}/plain/io.safetensors`);
    const sigmas = sigmasForLatent(6, 3, 10, 12);
    expect(maxAbs(sigmas, await io.readFloat32('out.sigmas'))).toBe(0);
    const denoised = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => io.readFloat32(`out.denoised.${i}`)));
    const seenX: Float32Array[] = [];
    const result = await sampleUniPC({
      noise: await io.readFloat32('in.noise'),
      sigmas,
      // The "model" replays the reference's x0 predictions; UniPC's own arithmetic produces x.
      denoise: async (_x, _s, i) => Float32Array.from(denoised[i]!),
      onStep: ({ x }) => void seenX.push(Float32Array.from(x)),
    });
    for (let i = 0; i < 6; i++) expect(maxAbs(seenX[i]!, await io.readFloat32(`out.x.${i}`)), `x.${i}`).toBeLessThan(2e-4);
    expect(maxAbs(result, await io.readFloat32('out.latents'))).toBe(0);
    await io.close();
  });

  it('bh2 differs from bh1 (variant is really selectable)', async () => {
    const noise = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const sigmas = sigmasForLatent(5, 1, 4, 4);
    const denoise = async (x: Float32Array) => x.map((v) => v * 0.5);
    const a = await sampleUniPC({ noise, sigmas, denoise, variant: 'bh1' });
    const b = await sampleUniPC({ noise, sigmas, denoise, variant: 'bh2' });
    expect(maxAbs(a, b)).toBeGreaterThan(1e-6);
  });

  it('stops before the next model call once the signal aborts', async () => {
    const ac = new AbortController();
    let calls = 0;
    const run = sampleUniPC({
      noise: new Float32Array(8), sigmas: sigmasForLatent(10, 1, 2, 2), signal: ac.signal,
      denoise: async (x) => { calls++; return x; },
      onStep: ({ i }) => { if (i === 2) ac.abort(new Error('stop')); },
    });
    await expect(run).rejects.toThrow('stop');
    expect(calls).toBe(3);
  });
});

describe('flow-matching wrapper and guidance', () => {
  it('x0 = x − v·σ, timestep σ·1000, one call per step when cfg = 1', async () => {
    const calls: string[] = [];
    const d = flowMatchDenoiser(async (_x, t, branch) => { calls.push(`${branch}@${t}`); return new Float32Array([1, 2]); }, { cfg: 1, cfgRescale: 0 });
    const x0 = await d(new Float32Array([10, 10]), 0.25, 0);
    expect([...x0]).toEqual([9.75, 9.5]);
    expect(calls).toEqual(['positive@250']);
  });

  it('real CFG calls both branches and re-scales towards the positive std', async () => {
    const calls: string[] = [];
    const pos = new Float32Array([1, 3, 5, 7]);
    const neg = new Float32Array([0, 0, 0, 0]);
    const d = flowMatchDenoiser(async (_x, _t, b) => { calls.push(b); return b === 'positive' ? pos : neg; }, { cfg: 3, cfgRescale: 1 });
    const x0 = await d(new Float32Array(4), 1, 0);
    expect(calls).toEqual(['positive', 'negative']);
    // Full re-scale: the CFG prediction (3·pos) brought back to pos's std → pos itself.
    expect(maxAbs(x0, pos.map((v) => -v))).toBeLessThan(1e-5);
    expect([...combineGuidance(pos, neg, 3, 0)]).toEqual([3, 9, 15, 21]);
  });
});

interface TraceStep { call: number; computed: boolean; forced: boolean; rel_l1?: number; rescaled_rel_l1?: number; accumulated_after: number }

describe('TeaCache rule (golden traces)', () => {
  for (const folder of ['teacache', 'teacache_thresh_0.3']) {
    it(`reproduces the decisions of ${folder} from its rel-L1 sequence`, () => {
      const trace = JSON.parse(readFileSync(`${GOLDEN}/${folder}/teacache_trace.json`, 'utf8')) as { rel_l1_thresh: number; num_steps: number; steps: TraceStep[] };
      const cache = new TeaCache(trace.num_steps, trace.rel_l1_thresh);
      // Modulated inputs built so that each call's rel-L1 to the previous one is the traced value.
      let prev = new Float32Array(32).fill(1);
      for (const step of trace.steps) {
        const next = prev.map((v) => v * (1 + (step.rel_l1 ?? 0.5)));
        expect(cache.decide(next)).toBe(step.computed);
        const got = cache.trace.at(-1)!;
        expect(got.forced).toBe(step.forced);
        if (step.rescaled_rel_l1 !== undefined) {
          expect(teacacheRescale(step.rel_l1!)).toBeCloseTo(step.rescaled_rel_l1, 9);
          expect(got.relL1).toBeCloseTo(step.rel_l1!, 6);
        }
        expect(got.accumulatedAfter).toBeCloseTo(step.accumulated_after, 5);
        if (step.computed) cache.remember(new Float32Array(4), new Float32Array(4).fill(step.call));
        prev = next;
      }
    });
  }

  it('reuses the last computed residual on a skip through the staged model', async () => {
    let blockRuns = 0;
    const model: StagedTransformer<EmbedLike> = {
      async embed(inp) { return { hidden: { data: inp.hiddenStates.data.map((v) => v + 1), dims: inp.hiddenStates.dims }, modulated: { data: new Float32Array([1, 1]), dims: [1, 2] } }; },
      async blocks(e) { blockRuns++; return { data: e.hidden.data.map((v) => v * 2 + 5), dims: e.hidden.dims }; },
      async head(_e, h) { return h; },
    };
    const t = { data: new Float32Array(2), dims: [1, 2] };
    const { model: velocity, traces } = bindVelocityModel(model, {
      positive: { llamaVec: t, llamaMask: new Uint8Array(2), clipPooled: t }, negative: { llamaVec: t, llamaMask: new Uint8Array(2), clipPooled: t },
      imageEmbeddings: t, distilledCfg: 10, cache: { kind: 'teacache', numSteps: 3, threshold: 0.15 },
      section: { latentDims: [1, 1, 1, 1, 2], latentIndices: [], cleanLatents: t, cleanLatentIndices: [], cleanLatents2x: t, cleanLatent2xIndices: [], cleanLatents4x: t, cleanLatent4xIndices: [] },
    });
    expect([...(await velocity(new Float32Array([0, 1]), 1000, 'positive', 0))]).toEqual([7, 9]); // computed: residual = h + 5
    expect([...(await velocity(new Float32Array([3, 3]), 900, 'positive', 1))]).toEqual([10, 11]); // identical modulated → skip: (4,4) + residual (6,7)
    expect(blockRuns).toBe(1);
    expect(traces.positive!.trace.map((d) => d.computed)).toEqual([true, false]);
  });
});

describe('sampler conformance on the golden tiny transformer (golden/sampler)', () => {
  it('matches plain, teacache and teacache_thresh_0.3 step by step, with identical TeaCache decisions', async () => {
    const { runSamplerConformance } = await import('../../../src/conformance/sampler.ts');
    const lines = await runSamplerConformance(GOLDEN);
    const failed = lines.filter((l) => !l.pass);
    expect(failed, JSON.stringify(failed.slice(0, 5), null, 1)).toEqual([]);
    for (const folder of ['plain', 'teacache', 'teacache_thresh_0.3']) {
      expect(lines.filter((l) => l.name.startsWith(`${folder}.out.`)).length).toBe(13);
    }
    expect(lines.find((l) => l.name === 'teacache_thresh_0.3.teacache.computed')?.pass).toBe(true);
  });
});
