// Transformer session layouts on CPU, side by side in one run, each in its own process (so peak RSS
// is its own): every block resident in one session, grouped sessions, one session per block,
// streaming every block from host memory through shared graphs, and the former low-memory mode (a
// session created per block per call). Per call: time, peak RSS, host↔device bytes as counted.
// Then resident vs streaming vs a session per block per call on WebGPU (lavapipe here) and on CPU,
// on a small transformer, where re-creating sessions costs what it costs on a GPU provider.
// Then the same byte model for the official 13B config at the 640 bucket (computed, not run).
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { updateManifest } from '../src/engine/modelset/manifest.ts';
import { convertTransformer, makeTinyTransformer } from '../src/engine/transformer/component.ts';
import { OFFICIAL_CONFIG, officialParamShapes, parseTransformerConfig } from '../src/engine/transformer/config.ts';
import { BUCKET_640, chainedStepBytes, layoutBytes, planBlocks, tensorSizes } from '../src/engine/transformer/plan.ts';
import { callLayout, PackedTransformer, type PackedTransformerOptions } from '../src/engine/transformer/runtime.ts';
import { formatBytes } from '../src/engine/transformer/traffic.ts';
import { BUCKET_640_DIV8, inputs, MID_CONFIG } from './transformer.ts';
import { writeRandomTransformerSet } from './gpu/random-set.ts';
import type { Benchmark, BenchResult } from './types.ts';
import { machineDescription } from './machine.ts';

const MODES: Record<string, PackedTransformerOptions> = {
  'resident, one session for all blocks': {},
  'grouped, 4 blocks per session': { groupSize: 4 },
  'per-block sessions': { groupSize: 1 },
  'streaming every block from host memory': { lowMemory: true },
  "today's low-memory mode (session per block per call)": { reloadPerCall: true },
};

interface ChildResult { ms: number; loadMs: number; maxRssMiB: number; toDevice: number; toHost: number; weights: number; sessions: number }

type BenchProvider = 'cpu' | 'webgpu';

const RESIDENT = 'resident, one session for all blocks';
const STREAMING = 'streaming every block from host memory';
const TODAY = "today's low-memory mode (session per block per call)";

/**
 * The options of one row on a provider. WebGPU rows chain their sessions on the device as the app
 * does there (src/engine/framepack.ts); the reload-per-call mode cannot chain and moves every tensor.
 */
function layoutOptions(mode: string, provider: BenchProvider): PackedTransformerOptions {
  return provider === 'webgpu' ? { ...MODES[mode]!, provider, chainOnDevice: true } : MODES[mode]!;
}

/** A short section on the real-width model: 2 noisy frames on a 16×16 latent, few text/image tokens. */
const BUCKET_640_TINY = { h: 16, w: 16, window: 2, textTokens: 32, textReal: 20, imageTokens: 27 };
/**
 * The WebGPU comparison's section (lavapipe runs WebGPU on the CPU, so the block math is kept short):
 * 1 noisy frame on an 8×8 latent (16 tokens) + the clean latents, 10 of 16 text tokens, 9 image
 * tokens. Its three blocks hold 63 MB of fp32 weights against < 0.2 MB of hidden state, so weights
 * dominate activations as they do at the real width.
 */
const SMALL_SHAPE = { h: 8, w: 8, window: 1, textTokens: 16, textReal: 10, imageTokens: 9 };
const WEBGPU_RUNTIME_DIR = '/tmp/xdg';
const SHAPES = { mid: BUCKET_640_DIV8, tiny: BUCKET_640_TINY, small: SMALL_SHAPE };

async function runChild(dir: string, mode: string, repeats: number, shape: keyof typeof SHAPES = 'mid', provider: BenchProvider = 'cpu'): Promise<ChildResult> {
  const args = [fileURLToPath(import.meta.url), '--layout-child', dir, mode, String(repeats), shape, provider];
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', ...args], {
    maxBuffer: 1 << 20,
    // onnxruntime's WebGPU (Dawn on Vulkan) wants a runtime directory even without a display.
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? WEBGPU_RUNTIME_DIR },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
}

async function child(dir: string, mode: string, repeats: number, shape: string, provider: BenchProvider): Promise<void> {
  const loadStart = performance.now();
  const model = await PackedTransformer.load(dir, layoutOptions(mode, provider));
  const loadMs = performance.now() - loadStart;
  const c = MID_CONFIG as Record<string, unknown>;
  const x = inputs(SHAPES[shape as keyof typeof SHAPES], c.text_embed_dim as number, c.pooled_projection_dim as number, c.image_proj_dim as number);
  // onnxruntime needs about two calls to reach its steady speed.
  for (let i = 0; i < 2; i++) await model.forward(x);
  model.takeTraffic();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await model.forward(x);
    times.push(performance.now() - t0);
  }
  const traffic = model.takeTraffic();
  const sessions = model.describe().blockSessions;
  await model.close();
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  const per = (v: number) => Math.round(v / repeats);
  const out: ChildResult = {
    ms: median, loadMs, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    toDevice: per(traffic.toDevice), toHost: per(traffic.toHost), weights: per(traffic.weights), sessions,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** Stored fp32 bytes of every block of the official config, and of embed + head (block 0's norm1 in embed). */
function officialBytes(): { blocks: number[]; fixed: number } {
  const cfg = parseTransformerConfig(OFFICIAL_CONFIG);
  const blocks = new Array<number>(cfg.numLayers + cfg.numSingleLayers).fill(0);
  let fixed = 0;
  for (const [name, shape] of officialParamShapes(cfg)) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    const dual = /^transformer_blocks\.(\d+)\./.exec(name);
    const single = /^single_transformer_blocks\.(\d+)\./.exec(name);
    if (dual && !name.startsWith('transformer_blocks.0.norm1.linear')) blocks[Number(dual[1])]! += bytes;
    else if (single) blocks[cfg.numLayers + Number(single[1])]! += bytes;
    else fixed += bytes;
  }
  return { blocks, fixed };
}

/** The byte model at the official 640-bucket shapes for each layout (per transformer call = per step at cfg 1). */
export function official640(): BenchResult[] {
  const cfg = parseTransformerConfig(OFFICIAL_CONFIG);
  const sizes = tensorSizes(cfg, BUCKET_640);
  const { blocks, fixed } = officialBytes();
  const base = { fileBytes: blocks, reloadPerCall: false, wholeStep: false, numLayers: cfg.numLayers };
  const all = planBlocks({ fileBytes: blocks, fixedBytes: fixed });
  const perBlock = planBlocks({ fileBytes: blocks, fixedBytes: fixed, groupSize: 1 });
  const streaming = planBlocks({ fileBytes: blocks, fixedBytes: fixed, budgetBytes: 0 });
  const gb = (b: number) => Math.round(b / 1e6) / 1e3;
  const rows: Array<[string, Parameters<typeof callLayout>[0], boolean]> = [
    ['per-block sessions (today), computed step', { ...base, plan: perBlock }, false],
    ['per-block sessions (today), TeaCache-skipped step', { ...base, plan: perBlock }, true],
    ['all blocks in one session (CUDA/CPU), computed step', { ...base, plan: all }, false],
    ['all blocks in one session, TeaCache-skipped step', { ...base, plan: all }, true],
    ['whole-step graph, TeaCache off', { ...base, plan: all, wholeStep: true }, false],
    ['streaming every block (fp32 weights), computed step', { ...base, plan: streaming }, false],
  ];
  const note = `official 13B config, 608×640 bucket: ${sizes.hidden! / 4 / 3072} image tokens + ${BUCKET_640.imageTokens}+${BUCKET_640.textReal} context tokens, fp32 tensors`;
  const chained = chainedStepBytes(sizes, { teacache: true });
  const chainedRow: BenchResult = {
    name: '640 bucket, WebGPU chained (gpu-buffer), any step: host↔device bytes per step',
    value: gb(chained.toDevice + chained.toHost),
    unit: 'GB',
    note: `${formatBytes(chained.toDevice)} to device, ${formatBytes(chained.toHost)} to host; plus ${formatBytes(chained.perSection)} once per section (text, image, clean latents)`,
  };
  const half = layoutBytes(callLayout({ ...base, plan: all }, { forward: true }), tensorSizes(cfg, BUCKET_640, 2));
  const halfRow: BenchResult = {
    name: '640 bucket, all blocks in one session, fp16 inter-graph tensors, computed step: host↔device bytes per step',
    value: gb(half.toDevice + half.toHost),
    unit: 'GB',
    note: `${formatBytes(half.toDevice)} to device, ${formatBytes(half.toHost)} to host (TeaCache's probe stays fp32)`,
  };
  return [...rows.map(([name, layout, skip], i) => {
    const b = layoutBytes(callLayout(layout, { teacacheSkip: skip, forward: true }), sizes);
    return {
      name: `640 bucket, ${name}: host↔device bytes per step`,
      value: gb(b.toDevice + b.toHost),
      unit: 'GB',
      note: `${formatBytes(b.toDevice)} to device (${formatBytes(b.weights)} weights), ${formatBytes(b.toHost)} to host${i === 0 ? `; ${note}` : ''}`,
    };
  }), halfRow, chainedRow];
}

/** The WebGPU comparison's transformer: the mid width (8×64 heads), 1 dual + 2 single blocks. */
const SMALL_CONFIG = { ...MID_CONFIG, num_layers: 1, num_single_layers: 2 };
const SMALL_LABEL = `small (8×64, 1+2 blocks, ${SMALL_SHAPE.h}×${SMALL_SHAPE.w} latent, ${SMALL_SHAPE.window} noisy frame)`;

/**
 * Resident vs streaming vs a session per block per call on WebGPU (onnxruntime-node's bundled Dawn,
 * here on Mesa lavapipe), and the same three on CPU for contrast, one set (attention composed:
 * onnxruntime 1.30's WebGPU MultiHeadAttention is wrong from 32 keys up). On a GPU provider a new
 * session also compiles kernels and uploads the block's weights to the device, which is what the
 * former low-memory mode costs there; on CPU the page cache makes it cheap.
 */
async function providerComparison(dir: string): Promise<BenchResult[]> {
  await mkdir(process.env.XDG_RUNTIME_DIR ?? WEBGPU_RUNTIME_DIR, { recursive: true });
  await makeTinyTransformer(join(dir, 'small-src'), 1, { config: SMALL_CONFIG, dtype: 'bf16', shards: 1 });
  const set = join(dir, 'small-composed');
  const entry = await convertTransformer(join(dir, 'small-src'), set, { storage: 'fp32', attention: 'composed' });
  await updateManifest(set, { components: { transformer: entry } });
  const blockMiB = ((entry.extra?.weightBytes as number | undefined) ?? 0) / 2 ** 20;
  const results: BenchResult[] = [];
  for (const provider of ['webgpu', 'cpu'] as const) {
    const where = provider === 'cpu' ? 'CPU provider, same set' : 'WebGPU (onnxruntime-node bundled Dawn on Mesa lavapipe)';
    const runs: Record<string, ChildResult> = {};
    for (const mode of [RESIDENT, STREAMING, TODAY]) {
      const r = (runs[mode] = await runChild(set, mode, 3, 'small', provider));
      results.push({
        name: `${provider} ${SMALL_LABEL} ${mode}: one call`, value: Math.round(r.ms), unit: 'ms',
        note: `${where}${provider === 'webgpu' && mode !== TODAY ? ', chained on the device' : ''}; median of 3 after 2 warm-up calls; load ${Math.round(r.loadMs)} ms; peak RSS ${r.maxRssMiB} MiB` +
          (provider === 'webgpu' ? ' (lavapipe\'s device memory is host memory)' : '') +
          `; ${formatBytes(r.toDevice)} to device (${formatBytes(r.weights)} weights), ${formatBytes(r.toHost)} to host per call` +
          (mode === RESIDENT ? `; set ${blockMiB.toFixed(0)} MiB of fp32 weights, attention composed` : ''),
      });
    }
    const ratio = (a: string, b: string) => Math.round((runs[a]!.ms / runs[b]!.ms) * 100) / 100;
    results.push({ name: `${provider} small: streaming / resident per-call time`, value: ratio(STREAMING, RESIDENT), unit: '×', target: { value: 1.3, better: 'lower' } });
    results.push({ name: `${provider} small: today's low-memory mode / streaming per-call time`, value: ratio(TODAY, STREAMING), unit: '×', target: { value: 5, better: 'higher' } });
  }
  return results;
}

export async function suites(): Promise<Benchmark[]> {
  return [
    {
      name: 'transformer-layouts',
      description: 'resident vs grouped vs per-block vs streaming vs reload-per-call on the mid-size transformer (CPU), resident vs streaming vs reload-per-call on WebGPU and CPU (small transformer), and the byte model at the 640 bucket',
      run: async () => {
        const dir = await mkdtemp(join(tmpdir(), 'recurvid-bench-layouts-'));
        const machine = `${machineDescription()}, CPU provider, onnxruntime default threads`;
        try {
          await makeTinyTransformer(join(dir, 'src'), 1, { config: MID_CONFIG, dtype: 'bf16', shards: 1 });
          const entry = await convertTransformer(join(dir, 'src'), join(dir, 'set'), { storage: 'fp32' });
          await updateManifest(join(dir, 'set'), { components: { transformer: entry } });
          const results: BenchResult[] = [];
          const measured: Record<string, ChildResult> = {};
          for (const mode of Object.keys(MODES)) measured[mode] = await runChild(join(dir, 'set'), mode, 3);
          const resident = measured['resident, one session for all blocks']!;
          const today = measured["today's low-memory mode (session per block per call)"]!;
          const streaming = measured['streaming every block from host memory']!;
          for (const [mode, r] of Object.entries(measured)) {
            results.push({
              name: `mid (8×64, 4+8 blocks, 640 bucket /8) ${mode}: one call`, value: Math.round(r.ms), unit: 'ms',
              note: `${machine}; median of 3 after 2 warm-up calls; ${r.sessions} block sessions; ×${(r.ms / resident.ms).toFixed(2)} resident`,
            });
            results.push({ name: `  … peak RSS of its process`, value: r.maxRssMiB, unit: 'MiB' });
            results.push({
              name: `  … host↔device bytes per call`, value: Math.round((r.toDevice + r.toHost) / 1e5) / 10, unit: 'MB',
              note: `${formatBytes(r.toDevice)} to device (${formatBytes(r.weights)} weights), ${formatBytes(r.toHost)} to host`,
            });
          }
          results.push({ name: 'streaming / resident per-call time', value: Math.round((streaming.ms / resident.ms) * 100) / 100, unit: '×', target: { value: 1.3, better: 'lower' } });
          results.push({ name: "today's low-memory mode / streaming per-call time", value: Math.round((today.ms / streaming.ms) * 10) / 10, unit: '×', target: { value: 5, better: 'higher' } });
          // The same comparison with blocks of the real width (24×128 heads, 1 dual + 1 single block,
          // 1.36 + 0.57 GB of fp32 weights), where re-creating a block session per call costs what it
          // costs on the 13B model; few tokens, so the block math itself stays short on this CPU.
          const real = join(dir, 'real');
          await writeRandomTransformerSet(real, { ...OFFICIAL_CONFIG, num_layers: 1, num_single_layers: 1 }, { precision: 'fp32' });
          const realRuns: Record<string, ChildResult> = {};
          for (const mode of ['resident, one session for all blocks', 'streaming every block from host memory', "today's low-memory mode (session per block per call)"]) {
            realRuns[mode] = await runChild(real, mode, 2, 'tiny');
            const r = realRuns[mode]!;
            results.push({
              name: `real width (24×128, 1+1 blocks, ${BUCKET_640_TINY.h}×${BUCKET_640_TINY.w} latent) ${mode}: one call`, value: Math.round(r.ms), unit: 'ms',
              note: `peak RSS ${r.maxRssMiB} MiB; ${formatBytes(r.toDevice)} to device (${formatBytes(r.weights)} weights) per call`,
            });
          }
          const rr = (a: string, b: string) => Math.round((realRuns[a]!.ms / realRuns[b]!.ms) * 100) / 100;
          results.push({ name: 'real width: streaming / resident per-call time', value: rr('streaming every block from host memory', 'resident, one session for all blocks'), unit: '×', target: { value: 1.3, better: 'lower' } });
          results.push({ name: "real width: today's low-memory mode / streaming per-call time", value: rr("today's low-memory mode (session per block per call)", 'streaming every block from host memory'), unit: '×', target: { value: 5, better: 'higher' } });
          results.push(...(await providerComparison(dir)));
          results.push(...official640());
          return results;
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    },
  ];
}

if (process.argv[2] === '--layout-child' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), process.argv[6] ?? 'mid', (process.argv[7] ?? 'cpu') as BenchProvider);
}
