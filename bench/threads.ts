// Real-width transformer call (24×128 heads, 1 dual + 1 single block, 4 429 tokens) on the CPU
// provider with one intra-op thread and with the default thread count, side by side, and FramePack's
// own PyTorch transformer on the same config, weights and inputs when it can run here:
// FRAMEPACK_DIR = a clone of lllyasviel/FramePack, and python3 with torch + diffusers. Otherwise the
// PyTorch line says why it was skipped. Two warm-up calls each (onnxruntime needs about two to reach
// its steady speed). Reports; never asserts.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { updateManifest } from '../src/engine/modelset/manifest.ts';
import { defaultIntraOpThreads, setIntraOpThreads } from '../src/engine/runtime/session.ts';
import { convertTransformer, makeTinyTransformer } from '../src/engine/transformer/component.ts';
import { OFFICIAL_CONFIG } from '../src/engine/transformer/config.ts';
import { PackedTransformer } from '../src/engine/transformer/runtime.ts';
import { inputs, type Shape } from './transformer.ts';
import type { Benchmark, BenchResult } from './types.ts';

const REAL_WIDTH_CONFIG = { ...OFFICIAL_CONFIG, num_layers: 1, num_single_layers: 1 };
/** 9-frame window on a 40×32 latent (320×256 px) + clean latents, 729 SigLIP and 20 real text tokens: 4 429 tokens. */
const SHAPE_4429: Shape = { h: 40, w: 32, window: 9, textTokens: 32, textReal: 20, imageTokens: 729 };

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);

async function oursChild(setDir: string, threads: number): Promise<void> {
  setIntraOpThreads(threads);
  const model = await PackedTransformer.load(setDir);
  const c = REAL_WIDTH_CONFIG as unknown as Record<string, number>;
  const x = inputs(SHAPE_4429, c.text_embed_dim!, c.pooled_projection_dim!, c.image_proj_dim!);
  let tokens = 0;
  const call = async () => {
    const e = await model.embed(x);
    tokens = e.hidden.dims[1]! + e.context.dims[1]!;
    await model.head(e, await model.blocks(e));
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
  const wall = times.reduce((a, b) => a + b, 0);
  process.stdout.write(`${JSON.stringify({ ms: Math.min(...times), tokens, cpuPerWall: (cpu.user + cpu.system) / 1000 / wall })}\n`);
}

async function pytorchLine(): Promise<BenchResult> {
  const dir = process.env.FRAMEPACK_DIR;
  const skip = (why: string): BenchResult => ({ name: 'PyTorch (FramePack) real width: one transformer call', value: NaN, unit: 'ms', note: `skipped: ${why}` });
  if (!dir || !existsSync(join(dir, 'diffusers_helper', 'models', 'hunyuan_video_packed.py'))) {
    return skip('set FRAMEPACK_DIR to a clone of lllyasviel/FramePack to run FramePack\'s own transformer side by side');
  }
  try {
    await run('python3', ['-c', 'import torch, diffusers']);
  } catch {
    return skip('python3 with torch and diffusers is not installed (Debian: apt install python3-torch; pip install diffusers)');
  }
  return skip('the PyTorch runner is not written yet (no torch on the machine this bench was written on)');
}

async function measure(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'recurvid-bench-threads-'));
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length}, CPU provider`;
  try {
    await makeTinyTransformer(join(dir, 'src'), 1, { config: REAL_WIDTH_CONFIG, dtype: 'bf16', shards: 2 });
    const entry = await convertTransformer(join(dir, 'src'), join(dir, 'set'), { storage: 'fp32' });
    await updateManifest(join(dir, 'set'), { components: { transformer: entry } });
    await rm(join(dir, 'src'), { recursive: true, force: true });
    const results: BenchResult[] = [];
    const counts = [...new Set([1, defaultIntraOpThreads()])];
    let single = 0;
    for (const threads of counts) {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', self, '--ours', join(dir, 'set'), String(threads)], { maxBuffer: 1 << 20 });
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as { ms: number; tokens: number; cpuPerWall: number };
      if (threads === 1) single = r.ms;
      results.push({
        name: `ours real width (24×128, 1+1 blocks), ${threads} intra-op thread${threads > 1 ? 's' : ''}`,
        value: Math.round(r.ms),
        unit: 'ms',
        note: `${r.tokens} tokens; CPU/wall ${r.cpuPerWall.toFixed(2)}${threads > 1 && single ? `; ${(single / r.ms).toFixed(2)}× faster than 1 thread` : ''}; best of 2 after 2 warm-up calls; ${machine}`,
      });
    }
    results.push(await pytorchLine());
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function suites(): Promise<Benchmark[]> {
  return [
    {
      name: 'threads',
      description: 'real-width transformer call (24×128 heads, 1+1 blocks, 4 429 tokens): 1 thread vs the default, and FramePack\'s PyTorch transformer when available',
      run: measure,
    },
  ];
}

if (process.argv[2] === '--ours' && process.argv[1] === self) {
  await oursChild(process.argv[3]!, Number(process.argv[4]));
}
