// Graph optimisation at load must not turn fp16/int4 weights back into fp32. We save the model
// onnxruntime actually runs and sum its initializers per type. WebGPU (lavapipe) keeps fp16 and packed
// int4 as stored; the CPU provider keeps packed int4 but, having no fp16 MatMul, holds fp16 weights
// as fp32 (2× their stored bytes) — reported in src/engine/transformer/README.md, not hidden.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { externalLocation, isExternal, readModel } from '../../../src/engine/onnx/compose.ts';
import { optimizedWeightBytes } from '../../../src/engine/runtime/optimized-weights.ts';
import { convertTransformer } from '../../../src/engine/transformer/component.ts';

process.env.XDG_RUNTIME_DIR ??= '/tmp/xdg';
mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true });
const GOLDEN = 'tests/fixtures/golden/transformer';

async function storedBytes(file: string): Promise<Record<string, number>> {
  const names: Record<number, string> = { 1: 'float32', 2: 'uint8', 10: 'float16' };
  const out: Record<string, number> = {};
  for (const t of (await readModel(file)).graph?.initializer ?? []) {
    if (!isExternal(t)) continue;
    const k = names[t.dataType ?? 0] ?? String(t.dataType);
    out[k] = (out[k] ?? 0) + externalLocation(t).length;
  }
  return out;
}

describe('weights after onnxruntime graph optimisation', () => {
  const dirs: Record<string, string> = {};
  beforeAll(async () => {
    for (const [label, opts] of [
      ['fp16', { precision: 'fp16' as const }],
      ['int4', { precision: 'fp16' as const, quant: { bits: 4 as const, blockSize: 64 as const } }],
    ] as const) {
      dirs[label] = await mkdtemp(join(tmpdir(), `recurvid-opt-${label}-`));
      await convertTransformer(GOLDEN, dirs[label]!, { storage: 'fp32', ...opts });
    }
  });
  afterAll(async () => {
    for (const d of Object.values(dirs)) await rm(d, { recursive: true, force: true });
  });

  it('WebGPU keeps fp16 and packed int4 weights as stored (no fp32 copies)', async () => {
    for (const label of ['fp16', 'int4']) {
      const file = join(dirs[label]!, 'transformer', 'blocks_01.onnx');
      const stored = await storedBytes(file);
      const run = await optimizedWeightBytes(file, 'webgpu');
      expect(run.float16, label).toBeGreaterThanOrEqual(stored.float16!);
      if (stored.uint8) expect(run.uint8, label).toBe(stored.uint8);
      // Only norm scales / small constants in fp32: far below one fp16 copy of the weights.
      expect(run.float32 ?? 0, label).toBeLessThan(0.1 * (stored.float16! + (stored.uint8 ?? 0)));
    }
  });

  it('CPU keeps packed int4 weights packed; fp16 weights become fp32 there (no fp16 MatMul kernel)', async () => {
    const int4 = join(dirs.int4!, 'transformer', 'blocks_01.onnx');
    const stored = await storedBytes(int4);
    const run = await optimizedWeightBytes(int4, 'cpu');
    expect(run.uint8).toBe(stored.uint8);
    expect(run.float32 ?? 0).toBeLessThan(stored.uint8!);
    const fp16 = join(dirs.fp16!, 'transformer', 'blocks_01.onnx');
    const cpuFp16 = await optimizedWeightBytes(fp16, 'cpu');
    expect(cpuFp16.float32).toBeGreaterThanOrEqual(2 * (await storedBytes(fp16)).float16!);
  });
});
