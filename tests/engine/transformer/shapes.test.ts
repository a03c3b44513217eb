// The official key layout and the full 13B config built shapes-only (no weights).
import { describe, expect, it } from 'vitest';
import { SafetensorsStore } from '../../../src/engine/safetensors.ts';
import { shapeOnlyWeights } from '../../../src/engine/onnx/weights.ts';
import { buildTransformerGraphs, uniqueParameterCount } from '../../../src/engine/transformer/build.ts';
import { OFFICIAL_CONFIG, officialParamShapes, parseTransformerConfig } from '../../../src/engine/transformer/config.ts';
import { readFile } from 'node:fs/promises';

const GOLDEN = 'tests/fixtures/golden/transformer';
/** Block indices → N, so names from 2-block and 60-block models can be compared. */
const generalise = (name: string) => name.replace(/(blocks)\.\d+\./, '$1.N.');

/** Closed-form count for the packed transformer, written independently of officialParamShapes. */
function expectedCount(D: number, hd: number, M: number, Dt: number, Dp: number, Di: number, dual: number, single: number, refiner: number): number {
  const lin = (o: number, i: number) => o * i + o;
  const mlp = (i: number) => lin(D, i) + lin(D, D);
  const xEmbed = D * 16 * 4 + D;
  const refinerBlock = 4 * D + 4 * lin(D, D) + lin(4 * D, D) + lin(D, 4 * D) + lin(2 * D, D);
  const context = mlp(256) + mlp(Dt) + lin(D, Dt) + refiner * refinerBlock;
  const time = 2 * mlp(256) + mlp(Dp);
  const dualBlock = 2 * lin(6 * D, D) + 8 * lin(D, D) + 4 * hd + 2 * (lin(M, D) + lin(D, M));
  const singleBlock = 3 * lin(D, D) + 2 * hd + lin(3 * D, D) + lin(M, D) + lin(D, D + M);
  const head = lin(2 * D, D) + lin(64, D);
  const image = lin(3 * D, Di) + lin(D, 3 * D);
  const clean = D * 16 * (4 + 32 + 256) + 3 * D;
  return xEmbed + context + time + dual * dualBlock + single * singleBlock + head + image + clean;
}

describe('official state-dict layout', () => {
  it('officialParamShapes reproduces the golden state dict exactly (names and shapes)', async () => {
    const cfg = parseTransformerConfig(JSON.parse(await readFile(`${GOLDEN}/config.json`, 'utf8')));
    const store = await SafetensorsStore.open(GOLDEN);
    const table = officialParamShapes(cfg);
    expect([...table.keys()].sort()).toEqual(store.keys());
    for (const [name, shape] of table) expect(store.info(name).shape, name).toEqual(shape);
    let total = 0;
    for (const s of table.values()) total += s.reduce((a, b) => a * b, 1);
    expect(total).toBe(316096); // README: 148 tensors, 316096 parameters
    expect(table.size).toBe(148);
    await store.close();
  });

  it('the golden graphs consume every checkpoint key', async () => {
    const cfg = parseTransformerConfig(JSON.parse(await readFile(`${GOLDEN}/config.json`, 'utf8')));
    const store = await SafetensorsStore.open(GOLDEN);
    const shapes = new Map(store.keys().map((k) => [k, store.info(k).shape]));
    const graphs = buildTransformerGraphs(cfg, shapeOnlyWeights(shapes));
    const used = new Set(graphs.flatMap((g) => [...g.binder.used]));
    expect([...used].sort()).toEqual(store.keys());
    await store.close();
  });
});

describe('full 13B config, shapes only', () => {
  it('has the expected parameter count, one file per block, and only official key names', async () => {
    const cfg = parseTransformerConfig(OFFICIAL_CONFIG);
    expect(cfg).toMatchObject({ numHeads: 24, headDim: 128, numLayers: 20, numSingleLayers: 40, textEmbedDim: 4096, pooledDim: 768, imageDim: 1152 });
    const shapes = officialParamShapes(cfg);
    const weights = shapeOnlyWeights(shapes);
    const graphs = buildTransformerGraphs(cfg, weights);
    expect(graphs.map((g) => g.role)).toEqual(['embed', ...Array.from({ length: 60 }, (_, i) => `blocks.${i}`), 'head']);
    const count = uniqueParameterCount(graphs, weights);
    console.log(`FramePackI2V_HY parameter count: ${count} (${(count / 1e9).toFixed(3)} B)`);
    expect(count).toBe(expectedCount(3072, 128, 12288, 4096, 768, 1152, 20, 40, 2));
    expect(count).toBe(12_874_314_816);

    // Names: exactly the golden names generalised over block indices, each block index present.
    const goldenStore = await SafetensorsStore.open(GOLDEN);
    const goldenPatterns = new Set(goldenStore.keys().map(generalise));
    await goldenStore.close();
    const used = new Set(graphs.flatMap((g) => [...g.binder.used]));
    expect(used.size).toBe(shapes.size);
    expect(new Set([...used].map(generalise))).toEqual(goldenPatterns);
    for (let i = 0; i < 20; i++) expect(used.has(`transformer_blocks.${i}.attn.to_q.weight`)).toBe(true);
    for (let i = 0; i < 40; i++) expect(used.has(`single_transformer_blocks.${i}.proj_out.weight`)).toBe(true);
    for (let i = 0; i < 2; i++) expect(used.has(`context_embedder.token_refiner.refiner_blocks.${i}.attn.to_q.weight`)).toBe(true);
    expect(used.has('transformer_blocks.20.attn.to_q.weight')).toBe(false);
    // No weight is held twice: block 0's norm1.linear (TeaCache's probe) lives in embed only.
    const owners = new Map<string, string[]>();
    for (const g of graphs) for (const n of g.binder.used) owners.set(n, [...(owners.get(n) ?? []), g.role]);
    expect([...owners].filter(([, roles]) => roles.length > 1)).toEqual([]);
    expect(owners.get('transformer_blocks.0.norm1.linear.weight')).toEqual(['embed']);
    // Every graph runs attention through com.microsoft.MultiHeadAttention (the head has none).
    for (const g of graphs.slice(0, -1)) expect(g.graph.usesMicrosoftDomain, g.role).toBe(true);
  });
});
