// The ffmpeg/ffprobe resolver's order and fallbacks, with each candidate pointed at a real binary,
// a broken path, or a fake ffmpeg without libx264: FFMPEG_PATH → ffmpeg-static → @ffmpeg-installer
// → system (reading media files: system right after FFMPEG_PATH); ffprobe next to ffmpeg, else @ffprobe-installer, else the system one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FfmpegMissingError, ffprobeFor, findFfmpeg, type FfmpegSources } from '../../src/util/ffmpeg.ts';

const require = createRequire(import.meta.url);
const installerFfmpeg = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
const installerFfprobe = (require('@ffprobe-installer/ffprobe') as { path: string }).path;

let dir: string;
let noX264: string;
let staticCopy: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffmpeg-order-'));
  // Runs, but lists no libx264 encoder: must be skipped, not chosen.
  noX264 = join(dir, 'ffmpeg-no-x264');
  await writeFile(noX264, '#!/bin/sh\necho "ffmpeg version fake"\n');
  await chmod(noX264, 0o755);
  // Stands in for ffmpeg-static's downloaded binary (a different path to the same real ffmpeg).
  await symlink(installerFfmpeg, (staticCopy = join(dir, 'static-ffmpeg')));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sources = (over: Partial<FfmpegSources>): FfmpegSources => ({
  ffmpegStatic: () => undefined,
  ffmpegInstaller: () => undefined,
  system: join(dir, 'no-such-system-ffmpeg'),
  ...over,
});

describe('ffmpeg resolver order', () => {
  it('FFMPEG_PATH comes first when it works', async () => {
    const ff = await findFfmpeg(installerFfmpeg, sources({ ffmpegStatic: () => staticCopy, ffmpegInstaller: () => installerFfmpeg }));
    expect(ff).toMatchObject({ source: 'FFMPEG_PATH', path: installerFfmpeg, hasX264: true });
  });

  it('then ffmpeg-static, when its binary exists', async () => {
    const ff = await findFfmpeg('/nonexistent/ffmpeg', sources({ ffmpegStatic: () => staticCopy, ffmpegInstaller: () => installerFfmpeg }));
    expect(ff).toMatchObject({ source: 'ffmpeg-static', path: staticCopy });
  });

  it('then the in-package @ffmpeg-installer binary (ffmpeg-static missing, as when its download failed)', async () => {
    const ff = await findFfmpeg(undefined, sources({ ffmpegInstaller: () => installerFfmpeg }));
    expect(ff).toMatchObject({ source: '@ffmpeg-installer', path: installerFfmpeg });
    expect(ff.version).toMatch(/^ffmpeg version/);
  });

  it('then the system ffmpeg; a binary without libx264 is skipped', async () => {
    const ff = await findFfmpeg(noX264, sources({ ffmpegStatic: () => noX264, system: installerFfmpeg }));
    expect(ff.source).toBe('system');
  });

  it('for reading media files the system ffmpeg comes before the npm binaries (both work here)', async () => {
    const both = sources({ ffmpegInstaller: () => installerFfmpeg, system: staticCopy });
    expect(await findFfmpeg(undefined, both, 'decode')).toMatchObject({ source: 'system', path: staticCopy });
    expect(await findFfmpeg(undefined, both, 'encode')).toMatchObject({ source: '@ffmpeg-installer' });
  });

  it('and when nothing works, one error naming every candidate and what to do', async () => {
    const err = await findFfmpeg(noX264, sources({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegMissingError);
    const message = (err as Error).message;
    expect(message).toContain(`FFMPEG_PATH ${noX264} (no libx264)`);
    expect(message).toContain('ffmpeg-static (not set or not installed)');
    expect(message).toContain('@ffmpeg-installer (not set or not installed)');
    expect(message).toMatch(/system .*no-such-system-ffmpeg \(not runnable\)/);
    expect(message).toMatch(/npm install/);
  });
});

describe('ffprobe resolver', () => {
  it('uses the ffprobe next to ffmpeg when there is one', async () => {
    const ffmpeg = join(dir, 'sib', 'ffmpeg');
    await mkdir(join(dir, 'sib'));
    await writeFile(join(dir, 'sib', 'ffprobe'), '');
    expect(ffprobeFor(ffmpeg, () => installerFfprobe)).toBe(join(dir, 'sib', 'ffprobe'));
  });

  it('falls back to @ffprobe-installer, then to the system ffprobe', () => {
    // @ffmpeg-installer ships no ffprobe next to its ffmpeg.
    expect(ffprobeFor(installerFfmpeg, () => installerFfprobe)).toBe(installerFfprobe);
    expect(ffprobeFor(installerFfmpeg, () => undefined)).toBe('ffprobe');
  });
});
