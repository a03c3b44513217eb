// The GPU check bundle (bench/gpu) is self-contained: built into a folder outside the repository, its
// run.sh starts with a bare environment, generates its own weights and prints one line per
// configuration on the CPU and WebGPU (lavapipe) providers with a small config. The compressed
// archive's size limit is checked by `npm run gpu:bundle` itself (xz takes a minute; not here).
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildGpuBundle } from '../../bench/gpu/build.ts';

const run = promisify(execFile);
let out: string | undefined;

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('GPU check bundle', () => {
  it('runs from its own folder on CPU and lavapipe: one line per provider × precision × layout', async () => {
    out = await mkdtemp(join(tmpdir(), 'recurvid-gpu-bundle-'));
    const bundle = await buildGpuBundle(out, { compress: false, cuda: false });
    const xdg = join(out, 'xdg');
    mkdirSync(xdg, { recursive: true });
    // No PATH to the repository's node or node_modules: the bundle brings its own.
    const { stdout } = await run(join(bundle.dir, 'run.sh'), ['--size', 'small', '--providers', 'cpu,webgpu,cuda', '--steps', '1'], {
      cwd: out, env: { PATH: '/usr/bin:/bin', HOME: out, XDG_RUNTIME_DIR: xdg }, timeout: 240_000, maxBuffer: 1 << 22,
    });
    for (const provider of ['cpu', 'webgpu']) {
      for (const precision of ['fp16', 'int4']) {
        for (const layout of ['resident', 'streaming']) {
          // provider, precision, layout, then s/step as a number and the bytes per step.
          const line = new RegExp(`^${provider}\\s+${precision}\\s+${layout}\\s+\\d+\\.\\d+\\s+.*\\d+(\\.\\d+)? [kMG]?B`, 'm');
          expect(stdout, `${provider} ${precision} ${layout}`).toMatch(line);
        }
      }
    }
    // Without its provider library the CUDA configurations say so instead of failing.
    expect(stdout).toMatch(/^cuda\s+skipped: its provider library/m);
    // One section end to end (transformer steps, VAE encode and decode, H.264 when an ffmpeg is found) on the first provider that ran.
    expect(stdout).toMatch(/^cpu\s+fp16\s+section: 9 frames of 64×64, \d+\.\d+ s per output frame — sampling 1 steps .* decode \d+\.\d+ s \((un)?tiled, \d+ calls/m);
    expect(stdout).toMatch(/^done in \d+ s/m);
  }, 300_000);
});
