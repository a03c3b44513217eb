// Card-class presets of the precision flags, and the memory policy of quantized sets: their
// transformer sessions run without onnxruntime's CPU arena unless a caller asks for it.
import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePrecisionFlags } from '../../../src/engine/modelset/precision.ts';
import { updateManifest } from '../../../src/engine/modelset/manifest.ts';
import { convertTransformer } from '../../../src/engine/transformer/component.ts';
import { PackedTransformer } from '../../../src/engine/transformer/runtime.ts';

const GOLDEN = 'tests/fixtures/golden/transformer';

describe('precision presets', () => {
  it('name a card class; explicit flags override its parts', () => {
    expect(parsePrecisionFlags({})).toMatchObject({ precision: 'fp32', quantMode: 'none', blockSize: 64 });
    expect(parsePrecisionFlags({ preset: 'gpu' })).toMatchObject({ precision: 'fp16', quantMode: 'none' });
    expect(parsePrecisionFlags({ preset: 'small-gpu' })).toMatchObject({ precision: 'fp16', quantMode: 'int4', blockSize: 64, quant: { bits: 4, blockSize: 64 } });
    expect(parsePrecisionFlags({ preset: 'small-gpu', quant: 'int8', blockSize: '128' })).toMatchObject({ precision: 'fp16', quant: { bits: 8, blockSize: 128 } });
    expect(() => parsePrecisionFlags({ preset: 'tiny-gpu' })).toThrow(/--preset must be reference, gpu, small-gpu \(got tiny-gpu\)/);
  });
});

describe('CPU memory arena per set', () => {
  it('is off for a quantized transformer (chosen to save memory), on otherwise, and a caller may choose', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'recurvid-arena-'));
    try {
      const arenaOf = async (set: string, opts: { cpuMemArena?: boolean } = {}) => {
        const t = await PackedTransformer.load(set, opts);
        try {
          return t.describe().cpuMemArena;
        } finally {
          await t.close();
        }
      };
      for (const [name, quant] of [['plain', undefined], ['int4', { bits: 4 as const, blockSize: 64 as const }]] as const) {
        const set = join(dir, name);
        const entry = await convertTransformer(GOLDEN, set, { storage: 'fp32', precision: 'fp32', ...(quant ? { quant } : {}) });
        await updateManifest(set, { components: { transformer: entry } });
      }
      expect(await arenaOf(join(dir, 'plain'))).toBe(true);
      expect(await arenaOf(join(dir, 'int4'))).toBe(false);
      expect(await arenaOf(join(dir, 'int4'), { cpuMemArena: true })).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
