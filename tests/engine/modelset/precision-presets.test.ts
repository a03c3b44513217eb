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
    expect(() => parsePrecisionFlags({ preset: 'tiny-gpu' })).toThrow(/--preset must be reference, cpu-fast, gpu, small-gpu, auto \(got tiny-gpu\)/);
  });

  it('cpu-fast is fp32 + int8 dynamic; auto chooses it only where the CPU has int8 units; int8-dynamic refuses fp16', () => {
    expect(parsePrecisionFlags({ preset: 'cpu-fast' })).toMatchObject({ precision: 'fp32', quantMode: 'int8-dynamic', quant: { scheme: 'int8-dynamic' } });
    const amx = { unit: 'AMX' as const, flags: ['amx_int8', 'amx_tile'] };
    const auto = parsePrecisionFlags({ preset: 'auto' }, amx);
    expect(auto).toMatchObject({ quantMode: 'int8-dynamic' });
    expect(auto.presetChoice).toMatch(/AMX int8 units \(amx_int8, amx_tile\), so cpu-fast/);
    const plain = parsePrecisionFlags({ preset: 'auto' }, { unit: null, flags: [] });
    expect(plain).toMatchObject({ precision: 'fp32', quantMode: 'none', quant: undefined });
    expect(plain.presetChoice).toMatch(/no AMX\/VNNI int8 units, so reference/);
    expect(parsePrecisionFlags({}).presetChoice).toBeUndefined();
    expect(() => parsePrecisionFlags({ preset: 'gpu', quant: 'int8-dynamic' })).toThrow(/int8-dynamic needs --precision fp32/);
    expect(() => parsePrecisionFlags({ quant: 'int2' })).toThrow(/--quant must be none, int8, int4, int8-dynamic \(got int2\)/);
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
