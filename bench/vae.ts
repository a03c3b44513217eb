// VAE decode benchmark: time per output frame and peak RSS, whole vs framewise vs spatially tiled,
// on a mid-size random HunyuanVideo VAE. Each variant decodes in its own child process, so its
// peak RSS (the kernel's high-water mark) is its own. Reports; never asserts.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { updateManifest } from '../src/engine/modelset/manifest.ts';
import { TINY_VAE_CONFIG, vaeConverter, writeRandomVae } from '../src/engine/vae/component.ts';
import { SeededRandom } from '../src/engine/seeded-random.ts';
import { HunyuanVae, type DecodeOptions } from '../src/engine/vae/runtime.ts';
import type { Benchmark, BenchResult } from './types.ts';
import { machineDescription } from './machine.ts';

const MID_CONFIG = { ...TINY_VAE_CONFIG, block_out_channels: [32, 64, 64, 64], layers_per_block: 1, norm_num_groups: 8 };
/** Latents [1, 16, 5, 8, 11] → 17 frames of 64×88 px: one short section, scaled down to run in seconds on a CPU. */
const LATENT_DIMS = [1, 16, 5, 8, 11];

const VARIANTS: Record<string, DecodeOptions> = {
  whole: { framewise: false },
  framewise: {},
  'framewise+tiled': { tiled: true, tiles: { sampleMinHeight: 32, sampleMinWidth: 32, sampleStrideHeight: 24, sampleStrideWidth: 24 } },
};

interface ChildReport {
  ms: number;
  frames: number;
  height: number;
  width: number;
  calls: number;
  maxRssKiB: number;
  /** High-water mark after loading and a 1-frame warm-up, before the timed decode. */
  baseRssKiB: number;
}

/** Child side: load the set, warm up on one latent frame, time one decode, report as JSON. */
async function child(setDir: string, variant: string): Promise<void> {
  const vae = await HunyuanVae.load(setDir);
  const n = LATENT_DIMS.reduce((a, b) => a * b, 1);
  const data = new SeededRandom(2).normals(n);
  await vae.decode({ data: data.slice(0, n / LATENT_DIMS[2]!), dims: [1, 16, 1, LATENT_DIMS[3]!, LATENT_DIMS[4]!] });
  const baseRssKiB = process.resourceUsage().maxRSS;
  const before = vae.calls.decoder;
  const start = performance.now();
  const out = await vae.decode({ data, dims: LATENT_DIMS }, VARIANTS[variant]);
  const report: ChildReport = {
    ms: performance.now() - start,
    frames: out.dims[2]!,
    height: out.dims[3]!,
    width: out.dims[4]!,
    calls: vae.calls.decoder - before,
    maxRssKiB: process.resourceUsage().maxRSS,
    baseRssKiB,
  };
  await vae.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function run(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'recurvid-bench-vae-'));
  const machine = `${machineDescription()}, CPU provider`;
  try {
    await writeRandomVae(join(dir, 'src'), MID_CONFIG, 1);
    const [entry] = await vaeConverter.convert(join(dir, 'src'), join(dir, 'set'), { storage: 'fp32' });
    await updateManifest(join(dir, 'set'), { tiny: true, components: { vae: entry! } });
    const results: BenchResult[] = [];
    for (const variant of Object.keys(VARIANTS)) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', join(dir, 'set'), variant],
        { maxBuffer: 1 << 20 },
      );
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as ChildReport;
      const note =
        `${machine}; block_out_channels [32,64,64,64], latents [${LATENT_DIMS.join(',')}] → ${r.frames}×${r.height}×${r.width} px, ` +
        `${r.calls} decoder call(s), ${(r.ms / 1000).toFixed(2)} s`;
      results.push({ name: `vae decode ${variant}: time per frame`, value: Math.round((r.ms / r.frames) * 10) / 10, unit: 'ms/frame', note });
      const above = Math.round((r.maxRssKiB - r.baseRssKiB) / 1024);
      results.push({
        name: `vae decode ${variant}: peak RSS`,
        value: Math.round(r.maxRssKiB / 1024),
        unit: 'MiB',
        note: `whole child process; ${above} MiB above its peak after load + warm-up`,
      });
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function suites(): Promise<Benchmark[]> {
  return [
    {
      name: 'vae',
      description: 'HunyuanVideo VAE decode on a mid-size random config: ms per output frame and peak RSS, whole vs framewise vs spatially tiled',
      run,
    },
  ];
}

if (process.argv[2] === '--child' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await child(process.argv[3]!, process.argv[4]!);
}
