// `npm run bench long-video`: minute-long videos at the real 640 bucket (tiny weights, 1 step) in
// this design against the contender (today's design before bounded memory and segments: the commit
// CONTENDER_COMMIT, checked out as a git worktree), side by side in one run. Per duration and design:
// peak RSS, bytes written, the largest checkpoint, wall time of the first and the last section.
// Each job runs in its own process (bench/long-video/job.ts), so each peak RSS is that job's alone.
//
// Then one decode with the official VAE width (random weights, bench/long-video/official-vae.ts):
// LONG_VIDEO_VAE_LATENT_FRAMES latent frames (default 1: one frame of 608×640; on this 2-core CPU
// one tiled 640 frame takes minutes, a 37-frame section hours, which the GPU check runs instead),
// its peak RSS next to the computed peak of a decoder call. LONG_VIDEO_OFFICIAL_VAE=0 skips it.
//
// Durations: LONG_VIDEO_SECONDS (default 5,30,60,120). The contender runs only up to
// LONG_VIDEO_CONTENDER_MAX_S (default 30): past that its checkpoint (every frame as rgb24 plus the
// whole latent history, rewritten after each section) passes Node's 4 GiB Buffer limit near 70 s,
// and its rewrites would write tens of GB; the line then says so, with the size extrapolated from
// what it measured, marked as an estimate.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { machineDescription } from './machine.ts';
import type { Benchmark, BenchResult } from './types.ts';

const run = promisify(execFile);

/** Today's design before #20: whole-video re-encodes and an every-frame checkpoint. */
export const CONTENDER_COMMIT = 'f18dd39';

interface JobFigures {
  seconds: number; frames: number; sections: number; wallMs: number; firstSectionMs: number; lastSectionMs: number;
  bytesWritten: number; largestCheckpoint: number; peakRssBytes: number;
  /** The pipeline's stage timings (ms); decoding_network is the decoder's own part of decoding. */
  timings: Record<string, number>;
}

const MB = 2 ** 20;

async function runJob(root: string, seconds: number, workDir: string, models: string): Promise<JobFigures> {
  const tsx = resolve('node_modules/.bin/tsx');
  const { stdout } = await run(tsx, [resolve('bench/long-video/job.ts'), root, String(seconds), workDir, models], {
    maxBuffer: 1 << 24, env: { ...process.env, LOG_LEVEL: 'warn' }, timeout: 6 * 3600_000,
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  // Each job's figures as soon as it ends: a long run that is stopped keeps what it measured.
  process.stderr.write(`long-video ${root === resolve('.') ? 'ours' : 'contender'} ${seconds} s: ${line}\n`);
  return JSON.parse(line) as JobFigures;
}

/**
 * A worktree of the contender commit outside this checkout (a nested checkout would be linted and
 * tested as ours), with our node_modules linked in: the contender's dependencies are a subset.
 */
async function contenderRoot(): Promise<{ root?: string; why?: string; cleanup: () => Promise<void> }> {
  const dir = join(tmpdir(), `recurvid-bench-contender-${CONTENDER_COMMIT}`);
  try {
    if (!existsSync(join(dir, 'src'))) {
      await run('git', ['worktree', 'add', '--force', '--detach', dir, CONTENDER_COMMIT]);
    }
    if (!existsSync(join(dir, 'node_modules'))) await symlink(resolve('node_modules'), join(dir, 'node_modules'), 'dir');
    return { root: dir, cleanup: async () => { await run('git', ['worktree', 'remove', '--force', dir]).catch(() => undefined); } };
  } catch (err) {
    return { why: `the contender commit ${CONTENDER_COMMIT} could not be checked out (${(err as Error).message.split('\n')[0]}); a shallow clone lacks it`, cleanup: async () => undefined };
  }
}

function lines(design: string, f: JobFigures, note: string): BenchResult[] {
  const at = `${design}, ${f.seconds.toFixed(1)} s`;
  return [
    { name: `${at}: peak RSS`, value: f.peakRssBytes / MB, unit: 'MiB', note },
    { name: `${at}: bytes written`, value: f.bytesWritten / MB, unit: 'MiB', note },
    { name: `${at}: largest checkpoint`, value: f.largestCheckpoint / MB, unit: 'MiB', note, ...(design === 'ours' ? { target: { value: 16, better: 'lower' as const } } : {}) },
    { name: `${at}: first section`, value: f.firstSectionMs / 1000, unit: 's', note },
    { name: `${at}: last section`, value: f.lastSectionMs / 1000, unit: 's', note: `${f.sections} sections, job ${(f.wallMs / 1000).toFixed(0)} s` },
    ...hostShare(at, f.timings),
  ];
}

/** Our own work in decoding (tiling, blending, conversions) against the decoder network's time. */
function hostShare(at: string, t: Record<string, number>): BenchResult[] {
  const network = t.decoding_network;
  if (network === undefined || !t.decoding) return []; // the contender does not measure it
  return [{
    name: `${at}: decode host work / decoder time`, value: Math.round(((t.decoding - network) / network) * 1000) / 10, unit: '%',
    note: `decoding ${(t.decoding / 1000).toFixed(1)} s, of which the decoder ${(network / 1000).toFixed(1)} s; sampling ${((t.sampling ?? 0) / 1000).toFixed(1)} s, writing ${((t.writing ?? 0) / 1000).toFixed(1)} s`,
    target: { value: 10, better: 'lower' },
  }];
}

async function officialVae(work: string, note: string): Promise<BenchResult[]> {
  const tsx = resolve('node_modules/.bin/tsx');
  const script = resolve('bench/long-video/official-vae.ts');
  await run(tsx, [script, 'build', work], { maxBuffer: 1 << 20, env: { ...process.env, LOG_LEVEL: 'warn' } });
  const { stdout } = await run(tsx, [script, 'decode', work], { maxBuffer: 1 << 20, env: { ...process.env, LOG_LEVEL: 'warn' }, timeout: 6 * 3600_000 });
  const r = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as {
    decodeS: number; frames: number; height: number; width: number; calls: number; tiled: boolean; peakRssBytes: number; computedCallPeakBytes: number; why: string;
  };
  const at = `official VAE width, ${r.frames} frame(s) of ${r.height}×${r.width}`;
  const how = `${r.tiled ? 'tiled' : 'untiled'}, ${r.calls} decoder calls; ${r.why}`;
  return [
    { name: `${at}: decode`, value: Math.round(r.decodeS * 10) / 10, unit: 's', note: `${note}; ${how}` },
    { name: `${at}: peak RSS`, value: Math.round(r.peakRssBytes / MB), unit: 'MiB', note: `whole process (encoder + decoder weights 0.94 GB fp32 on disk); computed peak of one decoder call ${(r.computedCallPeakBytes / MB).toFixed(0)} MiB` },
  ];
}

const longVideo: Benchmark = {
  name: 'long-video',
  description: '640 bucket, tiny weights, 1 step: peak RSS, bytes written, checkpoint size and section time by duration, ours vs the contender',
  async run(): Promise<BenchResult[]> {
    const durations = (process.env.LONG_VIDEO_SECONDS ?? '5,30,60,120').split(',').map(Number).filter((s) => s > 0);
    const contenderMax = Number(process.env.LONG_VIDEO_CONTENDER_MAX_S ?? 30);
    const dir = await mkdtemp(join(tmpdir(), 'recurvid-long-'));
    const { makeTinyModelSet } = await import('../src/engine/conversion/tiny.ts');
    const models = join(dir, 'tiny');
    await makeTinyModelSet(models, { seed: 0 });
    const contender = await contenderRoot();
    const note = `${machineDescription()}; tiny weights at the 640 bucket, 1 step, no cache`;
    const out: BenchResult[] = [];
    let checkpointPerSecond: number | undefined;
    try {
      for (const seconds of durations) {
        const ours = await runJob(resolve('.'), seconds, join(dir, `ours-${seconds}`), models);
        out.push(...lines('ours', ours, note));
        await rm(join(dir, `ours-${seconds}`), { recursive: true, force: true });
        if (!contender.root) {
          out.push({ name: `contender, ${seconds} s: not run`, value: 0, unit: '', note: contender.why ?? '' });
        } else if (seconds > contenderMax) {
          const estimate = checkpointPerSecond !== undefined ? ` (its checkpoint would be ≈${((checkpointPerSecond * seconds) / MB).toFixed(0)} MiB, extrapolated from the measured growth)` : '';
          out.push({ name: `contender, ${seconds} s: not run`, value: 0, unit: '', note: `past LONG_VIDEO_CONTENDER_MAX_S=${contenderMax}${estimate}` });
        } else {
          const theirs = await runJob(contender.root, seconds, join(dir, `contender-${seconds}`), models);
          out.push(...lines('contender', theirs, note));
          checkpointPerSecond = theirs.largestCheckpoint / theirs.seconds;
          await rm(join(dir, `contender-${seconds}`), { recursive: true, force: true });
        }
      }
      if (process.env.LONG_VIDEO_OFFICIAL_VAE !== '0') out.push(...(await officialVae(join(dir, 'official-vae'), note)));
    } finally {
      await contender.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
    return out;
  },
};

export async function suites(): Promise<Benchmark[]> {
  return [longVideo];
}
