import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fitVideoToSize, probeVideo, scaledSize, VideoTooLargeError } from '../../../src/bots/common/fit-video.ts';
import { resolveFfmpeg, resolveFfprobe } from '../../../src/util/ffmpeg.ts';

const run = promisify(execFile);
let dir: string;
let source: string;
let sourceBytes: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recurvid-fit-'));
  source = join(dir, 'section.mp4');
  const ffmpeg = await resolveFfmpeg();
  // 2 s of ffmpeg's noisy test pattern at near-lossless quality: big for its length.
  await run(ffmpeg.path, [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30:duration=2',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2',
    '-vf', 'noise=alls=40:allf=t',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '8', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-shortest',
    source,
  ]);
  sourceBytes = (await stat(source)).size;
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fitVideoToSize', () => {
  it('returns a video that already fits untouched', async () => {
    const result = await fitVideoToSize(source, sourceBytes + 1);
    expect(result).toEqual({ path: source, bytes: sourceBytes, reencoded: false });
  });

  it('re-encodes a real mp4 under a smaller limit, without audio, still playable', async () => {
    const limit = 100 * 1024;
    expect(sourceBytes).toBeGreaterThan(limit * 3);
    const result = await fitVideoToSize(source, limit, { workDir: dir });
    expect(result.reencoded).toBe(true);
    expect(result.path).not.toBe(source);
    expect(result.bytes).toBeLessThanOrEqual(limit);
    expect((await stat(result.path)).size).toBe(result.bytes);

    const info = await probeVideo(result.path);
    expect(info.durationSec).toBeGreaterThan(1.8);
    expect(info.durationSec).toBeLessThan(2.2);
    expect([info.width, info.height]).toEqual([320, 240]);
    const { stdout } = await run(await resolveFfprobe(), ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,pix_fmt', '-of', 'json', result.path]);
    const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string; pix_fmt?: string }> }).streams;
    expect(streams).toEqual([{ codec_type: 'video', codec_name: 'h264', pix_fmt: 'yuv420p' }]);
  });

  it('downscales when the bitrate per pixel would be too low', () => {
    const info = { durationSec: 10, width: 640, height: 480, fps: 30 };
    expect(scaledSize(info, 2_000_000)).toEqual({ width: 640, height: 480 });
    const small = scaledSize(info, 200_000);
    expect(small.width).toBeLessThan(640);
    expect(small.width % 2).toBe(0);
    expect(small.height % 2).toBe(0);
    expect(small.width / small.height).toBeCloseTo(4 / 3, 1);
    expect(scaledSize(info, 1_000).height).toBe(144); // never below a watchable floor
  });

  it('throws VideoTooLargeError with a clear sentence when the limit is impossible', async () => {
    const err = await fitVideoToSize(source, 8 * 1024, { workDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VideoTooLargeError);
    expect((err as Error).message).toMatch(/upload limit would make it unwatchable\.$/);
  });
});
