// The GPU check: generates random weights for the transformer where it runs, then runs one sampling
// step per configuration (provider × precision × layout) in its own process and prints one line
// each: s/step, GPU memory high-water mark (nvidia-smi), host↔device bytes, peak host RSS. Built
// into a self-contained bundle by bench/gpu/build.ts; bench/gpu/run.sh is the entry on the GPU box.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { OFFICIAL_CONFIG } from '../../src/engine/transformer/config.ts';
import { BUCKET_640, type StepShapes } from '../../src/engine/transformer/plan.ts';
import { PackedTransformer, type TransformerInputs } from '../../src/engine/transformer/runtime.ts';
import { formatBytes } from '../../src/engine/transformer/traffic.ts';
import { availableProviders, ort, type ExecutionProvider } from '../../src/engine/runtime/session.ts';
import { writeRandomTransformerSet } from './random-set.ts';
import { formatSection, runSection, writeSectionVae, type SectionReport } from './section.ts';

type Precision = 'fp16' | 'int4' | 'fp32';
type Layout = 'resident' | 'streaming';

interface Options {
  size: 'full' | 'small';
  blocks: [number, number];
  providers: ExecutionProvider[];
  precisions: Precision[];
  layouts: Layout[];
  steps: number;
  work: string;
  deadlineS: number;
  /** One section end to end (transformer, VAE encode/decode, H.264) on the first provider that runs. */
  section: boolean;
}

const SMALL_CONFIG = { ...OFFICIAL_CONFIG, num_attention_heads: 4, attention_head_dim: 32, num_refiner_layers: 1, rope_axes_dim: [8, 12, 12] };
const SMALL_SHAPE: StepShapes = { t: 2, h: 8, w: 8, textTokens: 16, textReal: 10, imageTokens: 8 };

function parseArgs(argv: string[]): Options {
  const get = (k: string, d: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : d;
  };
  const size = get('size', 'full') === 'small' ? 'small' : 'full';
  const [dual, single] = get('blocks', size === 'full' ? '2,4' : '1,1').split(',').map(Number) as [number, number];
  return {
    size,
    blocks: [dual, single],
    providers: get('providers', 'webgpu,cuda').split(',') as ExecutionProvider[],
    precisions: get('precisions', 'fp16,int4').split(',') as Precision[],
    layouts: get('layouts', 'resident,streaming').split(',') as Layout[],
    steps: Number(get('steps', '2')),
    work: resolve(get('work', join(process.cwd(), 'gpu-check-work'))),
    deadlineS: Number(get('deadline-s', '540')),
    section: !argv.includes('--no-section'),
  };
}

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 3.4;
  }
  return out;
}

function stepInputs(s: StepShapes, textDim: number, pooledDim: number, imageDim: number): TransformerInputs {
  const t = (dims: number[], seed: number) => ({ data: randn(dims.reduce((a, b) => a * b, 1), seed), dims });
  const lat = (frames: number, seed: number) => t([1, 16, frames, s.h, s.w], seed);
  const idx = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
  return {
    hiddenStates: lat(s.t, 1), timestep: 937.5, guidance: 10000,
    encoderHiddenStates: t([1, s.textTokens, textDim], 2),
    encoderAttentionMask: Uint8Array.from({ length: s.textTokens }, (_, i) => (i < s.textReal ? 1 : 0)),
    pooledProjections: t([1, pooledDim], 3), imageEmbeddings: t([1, s.imageTokens, imageDim], 4),
    latentIndices: idx(1, s.t), cleanLatents: lat(2, 5), cleanLatentIndices: [0, s.t + 1],
    cleanLatents2x: lat(2, 6), cleanLatent2xIndices: idx(s.t + 2, 2), cleanLatents4x: lat(16, 7), cleanLatent4xIndices: idx(s.t + 4, 16),
  };
}

/** Child: one configuration, JSON on the last stdout line. */
async function child(setDir: string, provider: ExecutionProvider, layout: Layout, size: string, steps: number): Promise<void> {
  const t0 = performance.now();
  const model = await PackedTransformer.load(setDir, {
    provider,
    ...(layout === 'streaming' ? { lowMemory: true } : { wholeStep: provider !== 'webgpu' }),
    chainOnDevice: provider === 'webgpu',
    expectedShapes: size === 'small' ? SMALL_SHAPE : BUCKET_640,
  });
  const loadS = (performance.now() - t0) / 1000;
  const cfg = model.config;
  const x = stepInputs(size === 'small' ? SMALL_SHAPE : BUCKET_640, cfg.textEmbedDim, cfg.pooledDim, cfg.imageDim);
  const call = () => (model.runStep ? model.runStep(x) : model.forward(x));
  await call(); // warm-up (kernels, shader compilation)
  model.takeTraffic();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    await call();
    times.push((performance.now() - s) / 1000);
  }
  const traffic = model.takeTraffic();
  const d = model.describe();
  await model.close();
  const out = {
    sPerStep: [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!,
    loadS,
    toDevice: traffic.toDevice / steps,
    toHost: traffic.toHost / steps,
    weights: traffic.weights / steps,
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    resident: d.residentBlockFiles,
    streamed: d.streamedBlockFiles,
    chained: d.chained,
  };
  process.stdout.write(`\n${JSON.stringify(out)}\n`);
}

/** Polls nvidia-smi's used memory while a configuration runs; returns the high-water mark (MiB). */
function gpuMemoryWatch(): { stop(): number | undefined } {
  try {
    execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore' });
  } catch {
    return { stop: () => undefined };
  }
  let max = 0;
  const p = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '200'], { stdio: ['ignore', 'pipe', 'ignore'] });
  p.stdout.on('data', (b: Buffer) => {
    for (const line of b.toString().split('\n')) {
      const v = Number(line.trim().split(/\s+/)[0]);
      if (Number.isFinite(v)) max = Math.max(max, v);
    }
  });
  return {
    stop: () => {
      p.kill();
      return max;
    },
  };
}

function ortBinDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

async function probeProvider(p: ExecutionProvider): Promise<string | undefined> {
  if (p === 'cuda' && !existsSync(join(ortBinDir(), 'libonnxruntime_providers_cuda.so'))) {
    return `its provider library (libonnxruntime_providers_cuda.so) is not in ${ortBinDir()}; build the bundle on a machine where ONNXRUNTIME_NODE_INSTALL=cuda12 installed it`;
  }
  if (!availableProviders().some((b) => b.name === p)) return 'not compiled into this onnxruntime-node';
  return undefined;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    await child(process.argv[3]!, process.argv[4] as ExecutionProvider, process.argv[5] as Layout, process.argv[6]!, Number(process.argv[7]));
    return;
  }
  if (process.argv[2] === '--section-child') {
    const [setDir, provider, size, steps, work] = process.argv.slice(3) as [string, ExecutionProvider, 'full' | 'small', string, string];
    const vaeDir = await writeSectionVae(join(work, `vae-${provider}`), size, provider);
    const shape = size === 'small' ? SMALL_SHAPE : BUCKET_640;
    process.stdout.write(`\n${JSON.stringify(await runSection(setDir, vaeDir, provider, shape, Number(steps), stepInputs, work))}\n`);
    return;
  }
  const o = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  process.env.XDG_RUNTIME_DIR ??= '/tmp/xdg-recurvid';
  mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true });
  const base: Record<string, unknown> = o.size === 'small' ? SMALL_CONFIG : OFFICIAL_CONFIG;
  const config: Record<string, unknown> = { ...base, num_layers: o.blocks[0], num_single_layers: o.blocks[1] };
  const shape = o.size === 'small' ? SMALL_SHAPE : BUCKET_640;
  console.log(`recurvid GPU check — node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? '?'}, ${o.size} width ` +
    `(${String(config.num_attention_heads)}×${String(config.attention_head_dim)} heads, ${o.blocks[0]} dual + ${o.blocks[1]} single blocks of 20 + 40), ` +
    `step shape t=${shape.t} h=${shape.h} w=${shape.w}, ${shape.imageTokens} image + ${shape.textReal} text tokens`);
  mkdirSync(o.work, { recursive: true });
  const sets = new Map<Precision, string>();
  for (const p of o.precisions) {
    const dir = join(o.work, p);
    const t = performance.now();
    await rm(dir, { recursive: true, force: true });
    await writeRandomTransformerSet(dir, config, { precision: p === 'fp32' ? 'fp32' : 'fp16', ...(p === 'int4' ? { quant: { bits: 4, blockSize: 64 } } : {}) });
    console.log(`weights ${p}: generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    sets.set(p, dir);
  }
  console.log('provider  precision layout     s/step   load s  GPU mem peak  host RSS   host→device/step  device→host/step  (weights streamed)');
  const ran: Array<{ provider: ExecutionProvider; precision: Precision }> = [];
  for (const provider of o.providers) {
    const why = await probeProvider(provider);
    if (why) {
      console.log(`${provider.padEnd(9)} skipped: ${why}`);
      continue;
    }
    for (const p of o.precisions) {
      for (const layout of o.layouts) {
        const label = `${provider.padEnd(9)} ${p.padEnd(9)} ${layout.padEnd(10)}`;
        if (elapsed() > o.deadlineS) {
          console.log(`${label} skipped: past the ${o.deadlineS} s deadline`);
          continue;
        }
        const watch = gpuMemoryWatch();
        const r = await runChild(['--child', sets.get(p)!, provider, layout, o.size, String(o.steps)], o, elapsed);
        const gpuMiB = watch.stop();
        const last = r.out.trim().split('\n').pop() ?? '';
        if (r.code !== 0 || !last.startsWith('{')) {
          const reason = (r.err.split('\n').find((l) => /error|fail/i.test(l)) ?? r.err.trim().split('\n').pop() ?? `exit ${r.code}`).slice(0, 200);
          console.log(`${label} FAILED: ${reason}`);
          continue;
        }
        const j = JSON.parse(last) as { sPerStep: number; loadS: number; toDevice: number; toHost: number; weights: number; maxRssMiB: number };
        ran.push({ provider, precision: p });
        console.log(
          `${label} ${j.sPerStep.toFixed(3).padStart(7)}  ${j.loadS.toFixed(1).padStart(6)}  ${(gpuMiB === undefined ? 'n/a' : `${gpuMiB} MiB`).padStart(12)}  ` +
            `${`${j.maxRssMiB} MiB`.padStart(9)}  ${formatBytes(j.toDevice).padStart(16)}  ${formatBytes(j.toHost).padStart(16)}  (${formatBytes(j.weights)})`,
        );
      }
    }
  }
  if (o.section) await sectionLine(o, sets, ran, elapsed);
  console.log(`done in ${elapsed().toFixed(0)} s`);
}

/** This script again in a child process with `args`; never past the deadline: one that hangs is killed and reported. */
function runChild(args: string[], o: Options, elapsed: () => number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => c.kill('SIGKILL'), Math.max(10, o.deadlineS + 30 - elapsed()) * 1000);
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out, err: code === null ? `killed at the ${o.deadlineS} s deadline\n${err}` : err });
    });
  });
}

/** The section line: on the first provider and precision whose step ran, in a process of its own. */
async function sectionLine(o: Options, sets: Map<Precision, string>, ran: Array<{ provider: ExecutionProvider; precision: Precision }>, elapsed: () => number): Promise<void> {
  const first = ran.find((c) => c.provider === 'cuda') ?? ran[0]; // the GPU the check is for, when it ran
  const label = `${(first?.provider ?? '-').padEnd(9)} ${(first?.precision ?? '-').padEnd(9)}`;
  if (!first) return void console.log(`${label} section skipped: no configuration ran`);
  if (elapsed() > o.deadlineS) return void console.log(`${label} section skipped: past the ${o.deadlineS} s deadline`);
  const r = await runChild(['--section-child', sets.get(first.precision)!, first.provider, o.size, String(o.steps), o.work], o, elapsed);
  const last = r.out.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !last.startsWith('{')) {
    const reason = (r.err.split('\n').find((l) => /error|fail/i.test(l)) ?? r.err.trim().split('\n').pop() ?? `exit ${r.code}`).slice(0, 200);
    return void console.log(`${label} section FAILED: ${reason}`);
  }
  console.log(formatSection(label, JSON.parse(last) as SectionReport));
}

await main();
