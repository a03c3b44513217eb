// Real-width transformer call (24×128 heads, 1 dual + 1 single block, 4 429 tokens) on the CPU
// provider with one intra-op thread and with the default thread count, side by side with our own
// PyTorch implementation of the same math (bench/pytorch/packed_transformer.py) on the same config,
// weights (the same safetensors checkpoint our converter reads) and inputs, at the default thread
// count; reports ms per call, ours/PyTorch and how far the two outputs are apart. PyTorch needs
// Debian's python3-torch (/usr/bin/python3); without it the PyTorch line says it was skipped and why.
// `threads-tiny` runs the same comparison on the tiny config for a fast self-check. Two warm-up calls
// each (onnxruntime needs about two to reach its steady speed). Reports; never asserts.
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { updateManifest } from '../src/engine/modelset/manifest.ts';
import { defaultIntraOpThreads, setIntraOpThreads } from '../src/engine/runtime/session.ts';
import { SafetensorsStore, writeSafetensors, type TensorToWrite } from '../src/engine/safetensors.ts';
import { convertTransformer, makeTinyTransformer } from '../src/engine/transformer/component.ts';
import { OFFICIAL_CONFIG, tinyRawConfig } from '../src/engine/transformer/config.ts';
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
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);

interface Timing {
  ms: number;
  cpuPerWall: number;
  tokens?: number;
}

/** The call's inputs in the golden set's `in.*` layout, which the PyTorch script reads. */
function inputTensors(x: TransformerInputs): Record<string, TensorToWrite> {
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

async function measure(label: string, config: Record<string, unknown>, shape: Shape): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'recurvid-bench-threads-'));
  const machine = `${machineDescription()}`;
  try {
    // The checkpoint stays for the PyTorch side: both load the same bf16 safetensors.
    await makeTinyTransformer(join(dir, 'src'), 1, { config, dtype: 'bf16', shards: 2 });
    const entry = await convertTransformer(join(dir, 'src'), join(dir, 'set'), { storage: 'fp32' });
    await updateManifest(join(dir, 'set'), { components: { transformer: entry } });
    const dims: [number, number, number] = [config.text_embed_dim as number, config.pooled_projection_dim as number, config.image_proj_dim as number];
    const ioFile = join(dir, 'io.safetensors');
    await writeSafetensors(ioFile, inputTensors(inputs(shape, ...dims)));

    const results: BenchResult[] = [];
    const threadsDefault = defaultIntraOpThreads();
    const counts = [...new Set([1, threadsDefault])];
    const ours = new Map<number, Timing>();
    for (const threads of counts) {
      const out = join(dir, `ours-${threads}.safetensors`);
      const { stdout } = await run(process.execPath, ['--import', 'tsx', self, '--ours', join(dir, 'set'), String(threads), JSON.stringify({ shape, dims }), out], { maxBuffer: 1 << 20 });
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as Timing;
      ours.set(threads, r);
      const single = ours.get(1)?.ms;
      results.push({
        name: `ours ${label}, ${threads} intra-op thread${threads > 1 ? 's' : ''}`,
        value: Number(r.ms.toFixed(1)),
        unit: 'ms',
        note: `${r.tokens} tokens; CPU/wall ${r.cpuPerWall.toFixed(2)}${threads > 1 && single ? `; ${(single / r.ms).toFixed(2)}× faster than 1 thread` : ''}; best of 2 after 2 warm-up calls; ${machine}, onnxruntime CPU provider`,
      });
    }

    const torchName = `PyTorch ${label} (our reference implementation), ${threadsDefault} thread${threadsDefault > 1 ? 's' : ''}`;
    const missing = await torchMissing();
    if (missing) {
      results.push({ name: torchName, value: NaN, unit: 'ms', note: `skipped: ${missing}` });
      return results;
    }
    const torchOut = join(dir, 'torch.safetensors');
    // Same thread count for torch's own pool, OpenMP and OpenBLAS; jemalloc (when installed) keeps
    // the large activations from being mmapped and unmapped every call.
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threadsDefault), OPENBLAS_NUM_THREADS: String(threadsDefault) };
    const malloc = existsSync(JEMALLOC) ? 'jemalloc' : 'glibc malloc';
    if (existsSync(JEMALLOC)) env.LD_PRELOAD = JEMALLOC;
    let t: Timing & { torch: string; threads: number };
    try {
      const { stdout } = await run(PYTHON, [TORCH_SCRIPT, '--weights', join(dir, 'src'), '--inputs', ioFile, '--threads', String(threadsDefault), '--out', torchOut], { env, maxBuffer: 1 << 20 });
      t = JSON.parse(stdout.trim().split('\n').pop()!) as Timing & { torch: string; threads: number };
    } catch (err) {
      results.push({ name: torchName, value: NaN, unit: 'ms', note: `failed: ${oneLine(err)}` });
      return results;
    }
    const reference = await readSample(torchOut);
    const agreement = await Promise.all(counts.map(async (n) => `${n} thread${n > 1 ? 's' : ''} ${maxAbsDiff(await readSample(join(dir, `ours-${n}.safetensors`)), reference).toExponential(1)}`));
    results.push({
      name: torchName,
      value: Number(t.ms.toFixed(1)),
      unit: 'ms',
      note: `torch ${t.torch}, ${blasName()}, ${malloc}; CPU/wall ${t.cpuPerWall.toFixed(2)}; best of 2 after 2 warm-up calls`,
    });
    const best = ours.get(threadsDefault)!;
    results.push({
      name: `ours / PyTorch ${label}, ${threadsDefault} thread${threadsDefault > 1 ? 's' : ''} each`,
      value: Number((best.ms / t.ms).toFixed(2)),
      unit: '×',
      ...(label.startsWith('real width') ? { target: { value: 0.6, better: 'lower' as const } } : {}),
      note: `ours 1 thread / PyTorch: ${(ours.get(1)!.ms / t.ms).toFixed(2)}×`,
    });
    results.push({
      name: `output agreement ours vs PyTorch ${label}`,
      // In millionths: the bench table prints three decimals.
      value: Number((maxAbsDiff(await readSample(join(dir, `ours-${threadsDefault}.safetensors`)), reference) * 1e6).toFixed(2)),
      unit: '×1e-6 max abs',
      note: `per ours run: ${agreement.join(', ')}; output |max| ${maxAbs(reference).toFixed(2)}`,
    });
    if (label.startsWith('tiny')) results.push(await goldenCheck());
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
      description: 'self-check of the threads bench on the tiny config (2×16 heads, 2+2 blocks): ours at 1 thread and the default, and our PyTorch implementation, with output agreement',
      run: () => measure('tiny (2×16, 2+2 blocks)', tinyRawConfig(), TINY_SHAPE),
    },
    {
      name: 'threads',
      description: 'real-width transformer call (24×128 heads, 1+1 blocks, 4 429 tokens): ours at 1 thread and the default, and our PyTorch implementation of the same math on the same weights and inputs',
      run: () => measure('real width (24×128, 1+1 blocks)', REAL_WIDTH_CONFIG, SHAPE_4429),
    },
  ];
}

if (process.argv[2] === '--ours' && process.argv[1] === self) {
  await oursChild(process.argv[3]!, Number(process.argv[4]), process.argv[5]!, process.argv[6]!);
}
