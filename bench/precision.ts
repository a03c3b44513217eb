// Precision / quantization benchmark: one mid-size transformer (12×128 heads, 2 dual + 2 single
// blocks, official text/pooled/image widths) converted fp32, fp16, fp32+int8 and fp32+int4, each
// loaded in its own child process on the CPU provider: RSS once loaded, RSS after five calls (what
// the process holds: onnxruntime maps external weights it does not repack, so they only count once
// touched), peak RSS, and the time of one call (after two warm-up calls), with the ratio to fp32.
// Reports; never asserts.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { updateManifest } from '../src/engine/modelset/manifest.ts';
import { quantSpec, type QuantMode } from '../src/engine/onnx/quant.ts';
import type { Precision } from '../src/engine/onnx/weights.ts';
import { intraOpThreads, setCpuMemArena } from '../src/engine/runtime/session.ts';
import { convertTransformer, makeTinyTransformer } from '../src/engine/transformer/component.ts';
import { OFFICIAL_CONFIG } from '../src/engine/transformer/config.ts';
import { PackedTransformer } from '../src/engine/transformer/runtime.ts';
import { BUCKET_640_DIV8, inputs } from './transformer.ts';
import type { Benchmark, BenchResult } from './types.ts';
import { machineDescription } from './machine.ts';

/** Wide enough that weights dominate RSS (≈ 0.4 B parameters, ≈ 1.6 GB in fp32). */
const MID_WIDE_CONFIG = { ...OFFICIAL_CONFIG, num_attention_heads: 12, attention_head_dim: 128, num_layers: 2, num_single_layers: 2 };

interface Mode {
  label: string;
  precision: Precision;
  quant: QuantMode;
}

const MODES: Mode[] = [
  { label: 'fp32', precision: 'fp32', quant: 'none' },
  { label: 'fp16', precision: 'fp16', quant: 'none' },
  { label: 'int8 (fp32 + int8/64)', precision: 'fp32', quant: 'int8' },
  { label: 'int4 (fp32 + int4/64)', precision: 'fp32', quant: 'int4' },
];

interface ChildReport {
  loadedRssMiB: number;
  steadyRssMiB: number;
  peakRssMiB: number;
  callMs: number;
  weightBytes: number;
}

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);

async function measureModes(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'recurvid-bench-prec-'));
  const machine = `${machineDescription()}, CPU provider, ${intraOpThreads()} intra-op threads`;
  try {
    await makeTinyTransformer(join(dir, 'src'), 1, { config: MID_WIDE_CONFIG, dtype: 'bf16', shards: 2 });
    const reports: Array<[Mode, ChildReport]> = [];
    for (const [i, m] of MODES.entries()) {
      const out = join(dir, `set${i}`);
      const quant = quantSpec(m.quant, 64);
      const entry = await convertTransformer(join(dir, 'src'), out, { storage: 'fp32', precision: m.precision, ...(quant ? { quant } : {}) });
      await updateManifest(out, { components: { transformer: entry } });
      // A fresh process per mode: its RSS is that mode's alone.
      for (const arena of [true, false]) {
        const { stdout } = await run(process.execPath, ['--import', 'tsx', self, '--load', out, arena ? 'arena' : 'no-arena'], { maxBuffer: 1 << 20 });
        // The engine's own choice: arena on for fp32/fp16, off for quantized sets (chosen to save memory).
        const engineDefault = arena === (m.quant === 'none');
        const label = `${m.label}${arena ? '' : ', CPU arena off'}${engineDefault ? ' (engine default)' : ''}`;
        reports.push([{ ...m, label }, JSON.parse(stdout.trim().split('\n').pop()!) as ChildReport]);
      }
      await rm(out, { recursive: true, force: true });
    }
    const results: BenchResult[] = [];
    for (const [i, [m, r]] of reports.entries()) {
      // Ratios against fp32 with the same arena setting (reports alternate arena on / off).
      const base = reports[i % 2]![1];
      const ratio = (v: number, b: number) => `${((100 * v) / b).toFixed(0)} % of fp32`;
      // The issue's targets hold the engine's default for a quantized set against fp32's default.
      const engineDefault = m.label.endsWith('(engine default)');
      const target = !engineDefault ? undefined : m.quant === 'int8' ? 0.4 : m.quant === 'int4' ? 0.3 : undefined;
      const fp32Default = reports[0]![1];
      results.push({
        name: `mid 12×128, 2+2 blocks, ${m.label}: RSS once loaded`,
        value: r.loadedRssMiB,
        unit: 'MiB',
        note: `${ratio(r.loadedRssMiB, base.loadedRssMiB)}; weights on disk ${(r.weightBytes / 2 ** 20).toFixed(0)} MiB; ${machine}`,
      });
      results.push({
        name: `mid 12×128, 2+2 blocks, ${m.label}: RSS after 5 calls`,
        value: r.steadyRssMiB,
        unit: 'MiB',
        note: ratio(r.steadyRssMiB, base.steadyRssMiB),
        ...(target ? { target: { value: Math.round(fp32Default.steadyRssMiB * target), better: 'lower' as const } } : {}),
      });
      results.push({ name: `mid 12×128, 2+2 blocks, ${m.label}: peak RSS over a call`, value: r.peakRssMiB, unit: 'MiB', note: ratio(r.peakRssMiB, base.peakRssMiB) });
      results.push({ name: `mid 12×128, 2+2 blocks, ${m.label}: one transformer call`, value: r.callMs, unit: 'ms', note: `${(r.callMs / base.callMs).toFixed(2)}× fp32; median of 3 after 2 warm-up calls` });
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function suites(): Promise<Benchmark[]> {
  return [
    {
      name: 'precision',
      description: 'mid-size transformer on CPU per mode (fp32 / fp16 / int8 / int4): RSS once loaded, peak RSS, one call, ratio to fp32',
      run: measureModes,
    },
  ];
}

/** Child side: load the set, measure RSS, warm up twice, time three calls. */
async function loadChild(setDir: string, arena: boolean): Promise<void> {
  setCpuMemArena(arena);
  const model = await PackedTransformer.load(setDir, { cpuMemArena: arena });
  (globalThis as { gc?: () => void }).gc?.();
  const loadedRssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  const c = MID_WIDE_CONFIG as unknown as Record<string, number>;
  const x = inputs(BUCKET_640_DIV8, c.text_embed_dim!, c.pooled_projection_dim!, c.image_proj_dim!);
  const call = async () => {
    const e = await model.embed(x);
    await model.head(e, await model.blocks(e));
  };
  await call();
  await call();
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  (globalThis as { gc?: () => void }).gc?.();
  const steadyRssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  await model.close();
  const { readManifest } = await import('../src/engine/modelset/manifest.ts');
  const weightBytes = ((await readManifest(setDir)).components.transformer?.extra?.weightBytes as number | undefined) ?? 0;
  const report: ChildReport = {
    loadedRssMiB,
    steadyRssMiB,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    callMs: [...times].sort((a, b) => a - b)[1]!,
    weightBytes,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (process.argv[2] === '--load' && process.argv[1] === self) {
  await loadChild(process.argv[3]!, process.argv[4] !== 'no-arena');
}
