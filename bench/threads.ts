// Real-width transformer call (24×128 heads, 1 dual + 1 single block, 4 429 tokens) on the CPU
// provider, side by side in one interleaved run: ours in fp32 (the exact mode) at one intra-op thread
// and at the default count, ours in the fast mode (fp32 + int8-dynamic Linears, when the CPU has
// AMX/VNNI int8 units), our PyTorch contender (bench/pytorch/packed_transformer.py, the same math in
// plain torch ops) and, when FRAMEPACK_REF_DIR points at a copy of FramePack's code (never committed;
// recipe in docs/benchmarks.md), FramePack's own HunyuanVideoTransformer3DModelPacked: all on the same
// bf16 checkpoint (the one our converter reads) and the same inputs, both PyTorch sides with the same
// allocator and thread settings. Reports ms per call with CPU/wall and the load of each run, each block
// of the two PyTorch sides (how the contender is shown to be as fast as the reference), ours/PyTorch
// against the faster PyTorch side, and how far the outputs are apart. PyTorch needs Debian's
// python3-torch (/usr/bin/python3); a side that cannot run says why. `threads-tiny` runs the same
// comparison on the tiny config as a fast self-check, with the contender against the golden output.
// Two warm-up calls per run (onnxruntime needs about two to reach its steady speed),
// BENCH_THREADS_ROUNDS rounds (default 2). Reports; never asserts.
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { updateManifest } from '../src/engine/modelset/manifest.ts';
import { defaultIntraOpThreads, setIntraOpThreads } from '../src/engine/runtime/session.ts';
import { SafetensorsStore, writeSafetensors, type TensorToWrite } from '../src/engine/safetensors.ts';
import { convertTransformer, makeTinyTransformer } from '../src/engine/transformer/component.ts';
import { OFFICIAL_CONFIG, tinyRawConfig } from '../src/engine/transformer/config.ts';
import { cpuInt8 } from '../src/engine/runtime/cpu-int8.ts';
import { PackedTransformer, type Tensor, type TransformerInputs } from '../src/engine/transformer/runtime.ts';
import { inputs, type Shape } from './transformer.ts';
import type { Benchmark, BenchResult } from './types.ts';
import { machineDescription } from './machine.ts';

const REAL_WIDTH_CONFIG = { ...OFFICIAL_CONFIG, num_layers: 1, num_single_layers: 1 };
/** 9-frame window on a 40×32 latent (320×256 px) + clean latents, 729 SigLIP and 20 real text tokens: 4 429 tokens. */
const SHAPE_4429: Shape = { h: 40, w: 32, window: 9, textTokens: 32, textReal: 20, imageTokens: 729 };
/** The golden set's shape (2×16 heads, 2+2 blocks): a few seconds for the whole comparison. */
const TINY_SHAPE: Shape = { h: 10, w: 12, window: 3, textTokens: 12, textReal: 9, imageTokens: 5 };

/** Debian's interpreter, where python3-torch installs (not a pyenv shim). */
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('./pytorch/packed_transformer.py', import.meta.url));
const FRAMEPACK_SCRIPT = fileURLToPath(new URL('./pytorch/framepack_reference.py', import.meta.url));
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);

interface Timing {
  ms: number;
  cpuPerWall: number;
  tokens?: number;
  /** PyTorch sides: torch's version and each block's best time (ms). */
  torch?: string;
  blocks?: Record<string, number>;
}

/** The call's inputs in the golden set's `in.*` layout, which the PyTorch script reads. */
export function inputTensors(x: TransformerInputs): Record<string, TensorToWrite> {
  const f32 = (t: Tensor): TensorToWrite => ({ dtype: 'F32', shape: t.dims, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
  const scalar = (v: number): TensorToWrite => f32({ data: Float32Array.of(v), dims: [1] });
  const i64 = (v: ArrayLike<number>): TensorToWrite => {
    const a = BigInt64Array.from(Array.from(v, (n) => BigInt(n)));
    return { dtype: 'I64', shape: [1, a.length], data: new Uint8Array(a.buffer) };
  };
  return {
    'in.hidden_states': f32(x.hiddenStates),
    'in.timestep': scalar(x.timestep),
    'in.guidance': scalar(x.guidance),
    'in.encoder_hidden_states': f32(x.encoderHiddenStates),
    'in.encoder_attention_mask': i64(x.encoderAttentionMask),
    'in.pooled_projections': f32(x.pooledProjections),
    'in.image_embeddings': f32(x.imageEmbeddings),
    'in.latent_indices': i64(x.latentIndices),
    'in.clean_latents': f32(x.cleanLatents),
    'in.clean_latent_indices': i64(x.cleanLatentIndices),
    'in.clean_latents_2x': f32(x.cleanLatents2x),
    'in.clean_latent_2x_indices': i64(x.cleanLatent2xIndices),
    'in.clean_latents_4x': f32(x.cleanLatents4x),
    'in.clean_latent_4x_indices': i64(x.cleanLatent4xIndices),
  };
}

async function readSample(file: string): Promise<Float32Array> {
  const store = await SafetensorsStore.open(file);
  try {
    return await store.readFloat32('sample');
  } finally {
    await store.close();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`Output sizes differ: ${a.length} vs ${b.length} values.`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Child side: load the converted set, two warm-up calls, two timed; writes the output sample. */
async function oursChild(setDir: string, threads: number, spec: string, outFile: string): Promise<void> {
  setIntraOpThreads(threads);
  const model = await PackedTransformer.load(setDir);
  const { shape, dims } = JSON.parse(spec) as { shape: Shape; dims: [number, number, number] };
  const x = inputs(shape, ...dims);
  let tokens = 0;
  let sample: Tensor | undefined;
  const call = async () => {
    const e = await model.embed(x);
    tokens = e.hidden.dims[1]! + e.context.dims[1]!;
    sample = await model.head(e, await model.blocks(e));
  };
  await call();
  await call();
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  await model.close();
  const s = sample!;
  await writeSafetensors(outFile, { sample: { dtype: 'F32', shape: s.dims, data: new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength) } });
  const wall = times.reduce((a, b) => a + b, 0);
  process.stdout.write(`${JSON.stringify({ ms: Math.min(...times), tokens, cpuPerWall: (cpu.user + cpu.system) / 1000 / wall })}\n`);
}

/** Why PyTorch cannot run here, or null when it can. */
async function torchMissing(): Promise<string | null> {
  if (!existsSync(PYTHON)) return `${PYTHON} is absent`;
  try {
    await run(PYTHON, ['-c', 'import torch']);
    return null;
  } catch {
    return `python3-torch is absent (Debian: apt-get install --no-install-recommends python3-torch libopenblas0-pthread)`;
  }
}

/** Which BLAS Debian's alternatives give torch (its reference BLAS is ~10× slower than OpenBLAS). */
function blasName(): string {
  try {
    const real = realpathSync('/usr/lib/x86_64-linux-gnu/libblas.so.3');
    return real.includes('openblas') ? 'OpenBLAS' : `reference BLAS (${real}; install libopenblas0-pthread)`;
  } catch {
    return 'unknown BLAS';
  }
}

const oneLine = (err: unknown): string => String((err as { stderr?: string }).stderr || err).trim().split('\n').pop() ?? String(err);

/** One contender of the comparison: how to run it once (one child process) and what it writes. */
interface Contender {
  key: string;
  name: string;
  threads: number;
  /** Runs it once: two warm-up calls and two timed, the sample written to `out`. */
  run: (out: string) => Promise<Timing>;
  /** Runs in every round (the default-thread contenders) or only the first (1 thread, for scaling). */
  everyRound: boolean;
}

/** Milliseconds with the digits that matter at each scale. */
const ms = (v: number | undefined): string => (v === undefined ? '?' : v < 100 ? v.toFixed(2) : v.toFixed(0));
const plural = (n: number): string => `${n} thread${n > 1 ? 's' : ''}`;
const load = (): string => `load ${loadavg()[0]!.toFixed(2)}`;

/** Relative L2 distance ‖a−b‖/‖b‖. */
function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/**
 * Builds the benchmark's inputs under `dir`: the bf16 checkpoint both PyTorch sides load (`src`), our
 * exact fp32 set (`set`), the fast set (`set-fast`, fp32 + int8 dynamic) and the call's inputs.
 */
export async function prepareThreadsBench(dir: string, config: Record<string, unknown>, shape: Shape): Promise<{ dims: [number, number, number]; ioFile: string }> {
  await makeTinyTransformer(join(dir, 'src'), 1, { config, dtype: 'bf16', shards: 2 });
  for (const [name, quant] of [['set', undefined], ['set-fast', { scheme: 'int8-dynamic' as const }]] as const) {
    const entry = await convertTransformer(join(dir, 'src'), join(dir, name), { storage: 'fp32', ...(quant ? { quant } : {}) });
    await updateManifest(join(dir, name), { components: { transformer: entry } });
  }
  const dims: [number, number, number] = [config.text_embed_dim as number, config.pooled_projection_dim as number, config.image_proj_dim as number];
  const ioFile = join(dir, 'io.safetensors');
  await writeSafetensors(ioFile, inputTensors(inputs(shape, ...dims)));
  return { dims, ioFile };
}

async function measure(label: string, config: Record<string, unknown>, shape: Shape): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'recurvid-bench-threads-'));
  const machine = machineDescription();
  const realWidth = label.startsWith('real width');
  try {
    const { dims, ioFile } = await prepareThreadsBench(dir, config, shape);
    const results: BenchResult[] = [];
    const threads = defaultIntraOpThreads();
    const cpu = cpuInt8();
    const rounds = Math.max(1, Number(process.env.BENCH_THREADS_ROUNDS ?? 2));

    const ours = (set: string, n: number) => async (out: string): Promise<Timing> => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', self, '--ours', join(dir, set), String(n), JSON.stringify({ shape, dims }), out], { maxBuffer: 1 << 20 });
      return JSON.parse(stdout.trim().split('\n').pop()!) as Timing;
    };
    // Same thread count for torch's own pool, OpenMP and OpenBLAS; jemalloc (when installed) keeps
    // the large activations from being mmapped and unmapped every call. Both PyTorch sides get it.
    const torchEnv: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
    if (existsSync(JEMALLOC)) torchEnv.LD_PRELOAD = JEMALLOC;
    const malloc = existsSync(JEMALLOC) ? 'jemalloc' : 'glibc malloc';
    const python = (script: string, extra: string[], env: NodeJS.ProcessEnv) => async (out: string): Promise<Timing> => {
      const { stdout } = await run(PYTHON, [script, '--weights', join(dir, 'src'), '--inputs', ioFile, '--threads', String(threads), '--out', out, '--blocks', ...extra], { env, maxBuffer: 1 << 20 });
      return JSON.parse(stdout.trim().split('\n').pop()!) as Timing;
    };

    const contenders: Contender[] = [
      { key: 'fp32-1', name: `ours fp32 (exact mode), ${plural(1)}`, threads: 1, run: ours('set', 1), everyRound: false },
      { key: 'fp32', name: `ours fp32 (exact mode), ${plural(threads)}`, threads, run: ours('set', threads), everyRound: true },
    ];
    const skipped: BenchResult[] = [];
    if (cpu.unit) contenders.push({ key: 'fast', name: `ours fast mode (fp32 + int8 dynamic on ${cpu.unit}), ${plural(threads)}`, threads, run: ours('set-fast', threads), everyRound: true });
    else skipped.push({ name: 'ours fast mode (fp32 + int8 dynamic)', value: NaN, unit: 'ms', note: 'skipped: this CPU has no AMX/VNNI int8 units (the fast mode would be no faster than fp32)' });
    const missing = await torchMissing();
    if (missing) {
      skipped.push({ name: `PyTorch ${label}`, value: NaN, unit: 'ms', note: `skipped: ${missing}` });
    } else {
      contenders.push({ key: 'torch', name: `PyTorch contender (bench/pytorch), ${plural(threads)}`, threads, run: python(TORCH_SCRIPT, [], torchEnv), everyRound: true });
      const ref = process.env.FRAMEPACK_REF_DIR;
      if (ref && existsSync(join(ref, 'diffusers_helper'))) {
        // PYTHONPATH puts the folder's sitecustomize.py (the torch 1.13 shims) before Debian's.
        const env = { ...torchEnv, PYTHONPATH: ref };
        contenders.push({ key: 'framepack', name: `FramePack's own code (HunyuanVideoTransformer3DModelPacked), ${plural(threads)}`, threads, run: python(FRAMEPACK_SCRIPT, ['--framepack', ref], env), everyRound: true });
      } else {
        skipped.push({ name: "FramePack's own code", value: NaN, unit: 'ms', note: `skipped: set FRAMEPACK_REF_DIR to a folder holding FramePack's diffusers_helper and diffusers (recipe in docs/benchmarks.md)${ref ? `; ${ref} has no diffusers_helper` : ''}` });
      }
    }

    // Interleaved rounds: every contender once per round, so a noisy minute hits all of them alike.
    const runs = new Map<string, Array<Timing & { load: string }>>();
    const failed = new Set<string>();
    for (let round = 0; round < rounds; round++) {
      for (const c of contenders) {
        if ((round > 0 && !c.everyRound) || failed.has(c.key)) continue;
        const before = load();
        try {
          const t = await c.run(join(dir, `${c.key}.safetensors`));
          runs.set(c.key, [...(runs.get(c.key) ?? []), { ...t, load: before }]);
        } catch (err) {
          failed.add(c.key);
          results.push({ name: `${c.name}, ${label}`, value: NaN, unit: 'ms', note: `failed in round ${round + 1}: ${oneLine(err)}` });
        }
      }
    }
    const best = new Map([...runs].map(([k, v]) => [k, v.reduce((a, b) => (b.ms < a.ms ? b : a))]));
    for (const c of contenders) {
      const b = best.get(c.key);
      if (!b) continue;
      const all = runs.get(c.key)!;
      const kind = c.key === 'torch' || c.key === 'framepack' ? `torch ${b.torch}, ${blasName()}, ${malloc}` : 'onnxruntime CPU provider';
      const scaling = c.key === 'fp32' && best.get('fp32-1') ? `; ${(best.get('fp32-1')!.ms / b.ms).toFixed(2)}× faster than 1 thread` : '';
      results.push({
        name: `${c.name}, ${label}`,
        value: Number(b.ms.toFixed(1)),
        unit: 'ms',
        note: `${kind}; CPU/wall ${b.cpuPerWall.toFixed(2)}${b.tokens ? `; ${b.tokens} tokens` : ''}${scaling}; best of 2 after 2 warm-up calls per round, rounds ${all.map((r) => `${r.ms.toFixed(0)} ms (${r.load})`).join(', ')}`,
      });
    }
    results.push(...skipped);

    const torch = best.get('torch');
    const framepack = best.get('framepack');
    if (torch && framepack) {
      const perBlock = Object.keys(framepack.blocks ?? {}).map((k) => `${k} ${ms(torch.blocks?.[k])} vs ${ms(framepack.blocks![k])} ms`);
      results.push({
        name: `PyTorch contender / FramePack's own code, ${label}`,
        value: Number((torch.ms / framepack.ms).toFixed(2)),
        unit: '×',
        // "As fast as" within the machine's run-to-run noise (rounds of one side differ by up to ~10 %).
        ...(realWidth ? { target: { value: 1.05, better: 'lower' as const } } : {}),
        note: `per block (contender vs FramePack): ${perBlock.join('; ')}; outputs ${maxAbsDiff(await readSample(join(dir, 'torch.safetensors')), await readSample(join(dir, 'framepack.safetensors'))).toExponential(1)} max abs apart`,
      });
    }
    // The PyTorch figure the ratios use: the faster of the two PyTorch sides (the stricter comparison).
    const sides: Array<{ t: Timing; key: string; what: string }> = [];
    if (torch) sides.push({ t: torch, key: 'torch', what: 'the PyTorch contender' });
    if (framepack) sides.push({ t: framepack, key: 'framepack', what: "FramePack's own code" });
    const pytorch = sides.sort((a, b) => a.t.ms - b.t.ms)[0];
    if (pytorch) {
      const reference = await readSample(join(dir, `${pytorch.key}.safetensors`));
      for (const [key, what, target] of [['fp32', 'ours fp32', 0.9], ['fast', 'ours fast mode', 0.5]] as const) {
        const b = best.get(key);
        if (!b) continue;
        const mine = await readSample(join(dir, `${key}.safetensors`));
        results.push({
          name: `${what} / PyTorch, ${label}, ${plural(threads)} each`,
          value: Number((b.ms / pytorch.t.ms).toFixed(2)),
          unit: '×',
          ...(realWidth ? { target: { value: target, better: 'lower' as const } } : {}),
          note: `against ${pytorch.what} (the faster PyTorch side, ${pytorch.t.ms.toFixed(0)} ms); outputs ${maxAbsDiff(mine, reference).toExponential(1)} max abs, ${relL2(mine, reference).toExponential(1)} rel L2 apart (output |max| ${maxAbs(reference).toFixed(2)})${key === 'fp32' && best.get('fp32-1') ? `; 1 thread / PyTorch ${(best.get('fp32-1')!.ms / pytorch.t.ms).toFixed(2)}×` : ''}`,
        });
      }
    }
    if (!realWidth && !missing) results.push(await goldenCheck());
    for (const r of results) r.note = r.note ? `${r.note}; ${machine}` : machine;
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The PyTorch implementation against FramePack's own output on the golden set (what makes it a fair contender). */
async function goldenCheck(): Promise<BenchResult> {
  const golden = fileURLToPath(new URL('../tests/fixtures/golden/transformer/', import.meta.url));
  const name = 'PyTorch implementation vs FramePack golden out.sample';
  try {
    const { stdout } = await run(PYTHON, [TORCH_SCRIPT, '--weights', golden, '--inputs', join(golden, 'io.safetensors'), '--golden', '--warmup', '0', '--repeats', '1']);
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { goldenMaxAbs: number };
    return { name, value: Number((r.goldenMaxAbs * 1e6).toFixed(2)), unit: '×1e-6 max abs', note: 'float32 floor of the reference: 2.58e-6 (golden README)' };
  } catch (err) {
    return { name, value: NaN, unit: '×1e-6 max abs', note: `failed: ${oneLine(err)}` };
  }
}

export async function suites(): Promise<Benchmark[]> {
  return [
    {
      name: 'threads-tiny',
      description: 'self-check of the threads bench on the tiny config (2×16 heads, 2+2 blocks): every contender of `threads`, with output agreement and the contender against the golden output',
      run: () => measure('tiny (2×16, 2+2 blocks)', tinyRawConfig(), TINY_SHAPE),
    },
    {
      name: 'threads',
      description: 'real-width transformer call (24×128 heads, 1+1 blocks, 4 429 tokens): ours fp32 (1 thread, default) and fast mode against our PyTorch contender and FramePack\'s own code (FRAMEPACK_REF_DIR), same weights and inputs, interleaved rounds',
      run: () => measure('real width (24×128, 1+1 blocks)', REAL_WIDTH_CONFIG, SHAPE_4429),
    },
  ];
}

if (process.argv[2] === '--ours' && process.argv[1] === self) {
  await oursChild(process.argv[3]!, Number(process.argv[4]), process.argv[5]!, process.argv[6]!);
}
