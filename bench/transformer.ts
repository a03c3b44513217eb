// Packed transformer benchmark: CPU time of one transformer call (embed → blocks → head) on the tiny
// model and on a mid-size random config with a 640-bucket-shaped section scaled down, plus the
// conversion's time and peak RSS. Reports; never asserts.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { updateManifest } from '../src/engine/modelset/manifest.ts';
import { convertTransformer, makeTinyTransformer } from '../src/engine/transformer/component.ts';
import { OFFICIAL_CONFIG, tinyRawConfig } from '../src/engine/transformer/config.ts';
import { PackedTransformer, type Tensor, type TransformerInputs } from '../src/engine/transformer/runtime.ts';
import type { Benchmark, BenchResult } from './types.ts';
import { machineDescription } from './machine.ts';

/** 8 heads × 64, 4 dual + 8 single blocks; the official text / pooled / image widths. */
export const MID_CONFIG = {
  ...OFFICIAL_CONFIG,
  num_attention_heads: 8,
  attention_head_dim: 64,
  num_layers: 4,
  num_single_layers: 8,
  rope_axes_dim: [16, 24, 24],
};

export interface Shape {
  /** Latent H, W (pixels / 8) and the text / image token counts. */
  h: number;
  w: number;
  window: number;
  textTokens: number;
  textReal: number;
  imageTokens: number;
}

/** demo_gradio at the 640×640 bucket: latent 80×80, window 9, 729 SigLIP tokens; here at 1/8 linear scale. */
export const BUCKET_640_DIV8: Shape = { h: 10, w: 10, window: 9, textTokens: 64, textReal: 40, imageTokens: 91 };
const TINY_SHAPE: Shape = { h: 10, w: 12, window: 3, textTokens: 12, textReal: 9, imageTokens: 5 };

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

const t = (dims: number[], seed: number): Tensor => ({ data: randn(dims.reduce((a, b) => a * b, 1), seed), dims });

/** FramePack's packing for one section: indices split [1, 0, window, 1, 2, 16] (last section, no padding). */
export function inputs(s: Shape, textDim: number, pooledDim: number, imageDim: number): TransformerInputs {
  const lat = (frames: number, seed: number) => t([1, 16, frames, s.h, s.w], seed);
  const idx = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
  return {
    hiddenStates: lat(s.window, 1),
    timestep: 937.5,
    guidance: 10000,
    encoderHiddenStates: t([1, s.textTokens, textDim], 2),
    encoderAttentionMask: Uint8Array.from({ length: s.textTokens }, (_, i) => (i < s.textReal ? 1 : 0)),
    pooledProjections: t([1, pooledDim], 3),
    imageEmbeddings: t([1, s.imageTokens, imageDim], 4),
    latentIndices: idx(1, s.window),
    cleanLatents: lat(2, 5),
    cleanLatentIndices: [0, s.window + 1],
    cleanLatents2x: lat(2, 6),
    cleanLatent2xIndices: idx(s.window + 2, 2),
    cleanLatents4x: lat(16, 7),
    cleanLatent4xIndices: idx(s.window + 4, 16),
  };
}

async function measure(label: string, config: Record<string, unknown>, shape: Shape, repeats: number): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'recurvid-bench-tr-'));
  const machine = `${machineDescription()}, CPU provider`;
  try {
    await makeTinyTransformer(join(dir, 'src'), 1, { config, dtype: 'bf16', shards: 2 });
    // Convert in a child process so its peak RSS (the kernel's high-water mark) is the conversion's own.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--convert', dir]);
    const conv = JSON.parse(stdout.trim().split('\n').pop()!) as { ms: number; maxRssKiB: number; params: number };
    const model = await PackedTransformer.load(join(dir, 'set'));
    const x = inputs(shape, config.text_embed_dim as number, config.pooled_projection_dim as number, config.image_proj_dim as number);
    const warm = await model.embed(x);
    await model.head(warm, await model.blocks(warm));
    const times = { embed: [] as number[], blocks: [] as number[], head: [] as number[], total: [] as number[] };
    let tokens = 0;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const e = await model.embed(x);
      const t1 = performance.now();
      const h = await model.blocks(e);
      const t2 = performance.now();
      await model.head(e, h);
      const t3 = performance.now();
      times.embed.push(t1 - t0);
      times.blocks.push(t2 - t1);
      times.head.push(t3 - t2);
      times.total.push(t3 - t0);
      tokens = e.hidden.dims[1]! + e.context.dims[1]!;
    }
    await model.close();
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    const params = conv.params;
    const note = `${machine}; ${(params / 1e6).toFixed(1)} M params, ${tokens} tokens (image + text), median of ${repeats}`;
    return [
      { name: `${label}: one transformer call`, value: median(times.total), unit: 'ms', note },
      { name: `${label}: embed`, value: median(times.embed), unit: 'ms' },
      { name: `${label}: blocks`, value: median(times.blocks), unit: 'ms' },
      { name: `${label}: head`, value: median(times.head), unit: 'ms' },
      { name: `${label}: convert (bf16 shards → fp32 ONNX)`, value: conv.ms, unit: 'ms' },
      {
        name: `${label}: peak RSS of the converting process`,
        value: Math.round(conv.maxRssKiB / 1024),
        unit: 'MiB',
        note: `${((params * 4) / 2 ** 20).toFixed(0)} MiB of fp32 weights written; they stream one tensor at a time`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function suites(): Promise<Benchmark[]> {
  return [
    {
      name: 'transformer',
      description: 'packed transformer call on CPU: tiny model, and 8×64-head 4+8-block model on a 640-bucket section at 1/8 scale',
      run: async () => [
        ...(await measure('tiny', tinyRawConfig(), TINY_SHAPE, 5)),
        ...(await measure('mid (8×64, 4+8 blocks, 640 bucket /8)', MID_CONFIG, BUCKET_640_DIV8, 3)),
      ],
    },
  ];
}

/** Child side: convert `${dir}/src` → `${dir}/set` and report time, peak RSS and parameter count. */
async function convertChild(dir: string): Promise<void> {
  const start = performance.now();
  const entry = await convertTransformer(join(dir, 'src'), join(dir, 'set'), { storage: 'fp32' });
  const ms = performance.now() - start;
  await updateManifest(join(dir, 'set'), { components: { transformer: entry } });
  const params = (entry.extra?.parameterCount as number | undefined) ?? 0;
  process.stdout.write(`${JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS, params })}\n`);
}

if (process.argv[2] === '--convert' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await convertChild(process.argv[3]!);
}
