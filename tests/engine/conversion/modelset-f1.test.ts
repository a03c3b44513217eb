// A model set holds both transformers and shares the rest: `convert --framepack-f1` adds the F1
// transformer (its own folder, variant recorded) next to what the set already has.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertModelSet } from '../../../src/engine/conversion/convert.ts';
import { readManifest } from '../../../src/engine/modelset/manifest.ts';
import { makeTinyTransformer, transformerConverter, transformerF1Converter } from '../../../src/engine/transformer/component.ts';
import { PackedTransformer } from '../../../src/engine/transformer/runtime.ts';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'recurvid-f1set-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('F1 transformer in a model set', () => {
  it('convert adds transformer_f1 beside the original one; each loads on its own', async () => {
    const out = join(dir, 'set');
    await makeTinyTransformer(join(dir, 'orig'), 1);
    await makeTinyTransformer(join(dir, 'f1'), 2);
    await convertModelSet({ sources: { framepack: join(dir, 'orig') }, out, storage: 'fp32', converters: [transformerConverter, transformerF1Converter] });
    expect((await readManifest(out)).components.transformer_f1).toBeUndefined();
    await expect(PackedTransformer.load(out, { component: 'transformer_f1' })).rejects.toThrow(/has no F1 transformer; pull it with `recurvid models pull --f1`/);

    const r = await convertModelSet({ sources: { framepack_f1: join(dir, 'f1') }, out, storage: 'fp32', converters: [transformerConverter, transformerF1Converter] });
    expect(r.converted).toEqual(['transformer_f1']);
    expect(r.skipped.map((s) => s.repo)).toEqual(['framepack']);
    const m = await readManifest(out);
    expect(m.components.transformer?.extra?.variant).toBe('original');
    expect(m.components.transformer_f1?.extra?.variant).toBe('f1');
    expect(m.components.transformer_f1?.source.every((s) => s.path.startsWith('transformer_f1/'))).toBe(true);
    const a = await PackedTransformer.load(out);
    const b = await PackedTransformer.load(out, { component: 'transformer_f1' });
    expect(a.blockFileCount).toBe(b.blockFileCount);
    await a.close();
    await b.close();
  });
});
