// The conformance CLI keeps going when a case throws (one FAIL line for that case, the rest still
// checked), and save_bcthw_as_mp4 cases with a batch larger than one are laid out as FramePack's grid.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConformance } from '../../src/cli/commands/conformance.ts';
import { runFunctionsConformance } from '../../src/conformance/functions.ts';
import { gridPerRow } from '../../src/engine/functions/index.ts';
import { SafetensorsStore, writeSafetensors, type TensorToWrite } from '../../src/engine/safetensors.ts';

const GOLDEN = 'tests/fixtures/golden/functions';

/** Reference layout written from the einops pattern's definition, output position by output position. */
function expectedGrid(x: Float32Array, [b, c, t, h, w]: number[]): { data: Uint8Array; shape: number[] } {
  const n = [6, 5, 4, 3, 2].find((p) => b! % p === 0) ?? b!;
  const m = b! / n;
  const H = m * h!;
  const W = n * w!;
  const out = new Uint8Array(t! * H * W * c!);
  for (let ti = 0; ti < t!; ti++)
    for (let Y = 0; Y < H; Y++)
      for (let X = 0; X < W; X++)
        for (let ch = 0; ch < c!; ch++) {
          const batch = Math.floor(Y / h!) * n + Math.floor(X / w!); // (m n): m is the outer axis
          const v = x[(((batch * c! + ch) * t! + ti) * h! + (Y % h!)) * w! + (X % w!)]!;
          const clamped = Math.min(1, Math.max(-1, v));
          out[((ti * H + Y) * W + X) * c! + ch] = Math.trunc(Math.fround(Math.fround(clamped * 127.5) + 127.5));
        }
  return { data: out, shape: [t!, H, W, c!] };
}

async function copyAll(path: string): Promise<Record<string, TensorToWrite>> {
  const store = await SafetensorsStore.open(path);
  try {
    const out: Record<string, TensorToWrite> = {};
    for (const k of store.keys()) {
      const info = store.info(k);
      out[k] = { dtype: info.dtype, shape: info.shape, data: new Uint8Array(await store.readRaw(k)) };
    }
    return out;
  } finally {
    await store.close();
  }
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conformance-'));
  const json = JSON.parse(await readFile(join(GOLDEN, 'functions.json'), 'utf8')) as Record<string, unknown[]>;
  // A case whose tensors do not exist: reading them throws.
  json.crop_or_pad_yield_mask = [...json.crop_or_pad_yield_mask!, { case: 99, length: 4 }];
  await writeFile(join(dir, 'functions.json'), JSON.stringify(json));
  const floats = await copyAll(join(GOLDEN, 'tensors.safetensors'));
  const bytes = await copyAll(join(GOLDEN, 'tensors_uint8.safetensors'));
  for (const [i, dims] of [[1, [2, 3, 2, 3, 4]], [2, [12, 3, 1, 2, 2]], [3, [7, 3, 1, 1, 2]]] as Array<[number, number[]]>) {
    const x = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, k) => Math.sin(k * 0.37) * 1.2);
    floats[`mp4_uint8.${i}.in.x`] = { dtype: 'F32', shape: [...dims], data: new Uint8Array(x.buffer) };
    const want = expectedGrid(x, [...dims]);
    bytes[`mp4_uint8.${i}.out.frames_uint8`] = { dtype: 'U8', shape: want.shape, data: want.data };
  }
  await writeSafetensors(join(dir, 'tensors.safetensors'), floats);
  await writeSafetensors(join(dir, 'tensors_uint8.safetensors'), bytes);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('conformance robustness', () => {
  it('picks FramePack grid widths', () => {
    expect([1, 2, 3, 4, 6, 7, 8, 12, 10, 9].map(gridPerRow)).toEqual([1, 2, 3, 4, 6, 7, 4, 6, 5, 3]);
  });

  it('checks batch > 1 save_bcthw_as_mp4 cases as a grid', async () => {
    const lines = await runFunctionsConformance(dir);
    for (const i of [1, 2, 3]) {
      const frames = lines.find((l) => l.name === `mp4_uint8.${i}.out.frames_uint8`);
      const shape = lines.find((l) => l.name === `mp4_uint8.${i}.out.frames_uint8.shape`);
      expect(frames?.pass, JSON.stringify(frames)).toBe(true);
      expect(shape?.pass, JSON.stringify(shape)).toBe(true);
      expect(frames?.note).toMatch(/as a grid/);
    }
  });

  it('reports a throwing case as one FAIL line and keeps checking the rest', async () => {
    const out: string[] = [];
    const ok = await runConformance(dir, (l) => out.push(l));
    expect(ok).toBe(false);
    const failing = out.filter((l) => l.startsWith('FAIL'));
    expect(failing).toHaveLength(2); // the broken case and the summary
    expect(failing[0]).toMatch(/crop_or_pad\[99\].*threw: /);
    // Cases after the broken one were still checked.
    expect(out.some((l) => l.startsWith('ok') && l.includes('soft_append.0.out'))).toBe(true);
    expect(out.some((l) => l.startsWith('ok') && l.includes('mp4_uint8.2.out.frames_uint8'))).toBe(true);
    const checks = out.length - 1;
    expect(out.at(-1)).toBe(`FAIL 1 of ${checks} checks failed in 1 set(s)`);
  });

  it('counts a set that cannot be read at all as a failed check, not "1 of 0"', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'conformance-broken-'));
    try {
      await writeFile(join(broken, 'functions.json'), '{ not json');
      await writeFile(join(broken, 'tensors.safetensors'), '');
      const out: string[] = [];
      expect(await runConformance(broken, (l) => out.push(l))).toBe(false);
      expect(out[0]).toMatch(/^FAIL \[functions\] .*JSON/);
      expect(out.at(-1)).toBe('FAIL 1 of 1 checks failed in 1 set(s)');
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
