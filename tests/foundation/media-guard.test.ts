// The guards around ffmpeg/ffprobe runs on media files, as pure functions: the decoder's
// resolution order (system first), the ffprobe that pairs with it, the file-only protocol
// whitelist with file: inputs and fixed threads, and the prlimit address-space wrapper.
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../../src/util/run-tool.ts';
import { decoderFfprobe, ffmpegCandidates, type FfmpegSources } from '../../src/util/ffmpeg.ts';
import { DECODE_MAX_ADDRESS_SPACE_BYTES, findPrlimit, guardedInputArgs, MEDIA_CODECS, MEDIA_FORMATS, memoryLimited, probeArgs } from '../../src/util/media-guard.ts';
import { resolveFfmpeg } from '../../src/util/ffmpeg.ts';

const sources: FfmpegSources = { ffmpegStatic: () => '/npm/static/ffmpeg', ffmpegInstaller: () => '/npm/installer/ffmpeg', system: 'ffmpeg' };

describe('ffmpeg resolution order by purpose', () => {
  it('decoding media: FFMPEG_PATH, then the (security-updated) system ffmpeg, then the npm binaries', () => {
    expect(ffmpegCandidates('decode', '/opt/ffmpeg', sources)).toEqual([
      ['FFMPEG_PATH', '/opt/ffmpeg'],
      ['system', 'ffmpeg'],
      ['ffmpeg-static', '/npm/static/ffmpeg'],
      ['@ffmpeg-installer', '/npm/installer/ffmpeg'],
    ]);
  });

  it('encoding our own frames keeps the npm-first order', () => {
    expect(ffmpegCandidates('encode', undefined, sources).map(([s]) => s)).toEqual(['FFMPEG_PATH', 'ffmpeg-static', '@ffmpeg-installer', 'system']);
  });

  it("the decoder's ffprobe: the system one with a system ffmpeg, else beside the chosen ffmpeg or the installer's", () => {
    expect(decoderFfprobe({ source: 'system', path: 'ffmpeg' }, () => '/npm/ffprobe')).toBe('ffprobe');
    expect(decoderFfprobe({ source: '@ffmpeg-installer', path: '/nonexistent/ffmpeg' }, () => '/npm/ffprobe')).toBe('/npm/ffprobe');
  });
});

describe('arguments for media files', () => {
  it('inputs are read through the file protocol only, with a fixed thread count', () => {
    expect(guardedInputArgs('/data/job/section.mp4')).toEqual([
      '-protocol_whitelist', 'file', '-format_whitelist', MEDIA_FORMATS, '-codec_whitelist', MEDIA_CODECS, '-threads', '4', '-i', 'file:/data/job/section.mp4',
    ]);
    // A name that looks like another protocol or an option stays a file name.
    expect(guardedInputArgs('concat:a|b').at(-1)).toBe('file:concat:a|b');
  });

  it('ffprobe gets the whitelist and a file: input too', () => {
    const args = probeArgs('-y.mp4');
    expect(args.slice(0, 8)).toEqual(['-v', 'error', '-protocol_whitelist', 'file', '-format_whitelist', MEDIA_FORMATS, '-codec_whitelist', MEDIA_CODECS]);
    expect(args.at(-1)).toBe('file:-y.mp4');
  });

  it('prlimit caps the address space when present; without it the command runs as-is', () => {
    expect(memoryLimited('/usr/bin/ffprobe', ['-v', 'error'], '/usr/bin/prlimit')).toEqual({
      command: '/usr/bin/prlimit',
      args: [`--as=${DECODE_MAX_ADDRESS_SPACE_BYTES}`, '--', '/usr/bin/ffprobe', '-v', 'error'],
    });
    expect(memoryLimited('/usr/bin/ffprobe', ['-v'], undefined)).toEqual({ command: '/usr/bin/ffprobe', args: ['-v'] });
    expect(findPrlimit(['/nonexistent/prlimit'])).toBeUndefined();
  });
});

describe('the prlimit cap is real', () => {
  const prlimit = findPrlimit();
  const ffprobe = (createRequire(import.meta.url)('@ffprobe-installer/ffprobe') as { path: string }).path;

  it.skipIf(!prlimit)('ffprobe runs under the default cap and is refused under a tiny one', async () => {
    const ok = memoryLimited(ffprobe, ['-hide_banner', '-version'], prlimit);
    expect((await runTool(ok.command, ok.args, { timeoutMs: 30_000 })).stdout).toMatch(/^ffprobe version/);
    const tiny = memoryLimited(ffprobe, ['-hide_banner', '-version'], prlimit, 1024 * 1024);
    await expect(runTool(tiny.command, tiny.args, { timeoutMs: 30_000, name: 'ffprobe' })).rejects.toThrow(/ffprobe failed/);
  });
});

describe('the demuxer and decoder whitelists are real', () => {
  const ffprobe = (createRequire(import.meta.url)('@ffprobe-installer/ffprobe') as { path: string }).path;

  it('an mp4 with H.264 is probed; a NUT file named .mp4 and an mp4 with a codec off the list are refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'media-guard-'));
    try {
      const ff = (await resolveFfmpeg()).path;
      const mp4 = join(dir, 'ok.mp4');
      const mpeg4 = join(dir, 'mpeg4.mp4');
      const nut = join(dir, 'clip.mp4'); // NUT container named .mp4: the demuxer is chosen by content, not name
      const src = ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=10', '-t', '1'];
      await runTool(ff, [...src, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', mp4], { timeoutMs: 60_000 });
      await runTool(ff, [...src, '-c:v', 'mpeg4', mpeg4], { timeoutMs: 60_000 });
      await runTool(ff, [...src, '-c:v', 'libx264', '-f', 'nut', nut], { timeoutMs: 60_000 });
      expect((await runTool(ffprobe, probeArgs(mp4), { timeoutMs: 30_000 })).stdout).toContain('"width": 64');
      await expect(runTool(ffprobe, probeArgs(nut), { timeoutMs: 30_000, name: 'ffprobe' })).rejects.toThrow(/ffprobe failed/);
      await expect(runTool(ffprobe, probeArgs(mpeg4), { timeoutMs: 30_000, name: 'ffprobe' })).rejects.toThrow(/ffprobe failed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
