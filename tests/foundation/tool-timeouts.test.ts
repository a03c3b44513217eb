// ffmpeg and ffprobe runs stop at their time limit: a fake ffmpeg/ffprobe pair that answers the
// resolver's -version/-encoders checks and then hangs is put on FFMPEG_PATH; writeMp4 and
// probeVideo must kill it and fail with a ToolTimeoutError naming the tool and the limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeMp4 } from '../../src/engine/video/mp4.ts';
import { probeVideo } from '../../src/bots/common/fit-video.ts';
import { ToolTimeoutError } from '../../src/util/run-tool.ts';

// `exec` so that the kill reaches the sleeping process itself (no orphan holding the pipes).
const HANGS = `#!/bin/sh
case "$*" in
  *-version*) echo "ffmpeg version fake-hangs"; exit 0 ;;
  *-encoders*) echo " V....D libx264  fake"; exit 0 ;;
esac
exec sleep 60
`;

let dir: string;
const savedPath = process.env.FFMPEG_PATH;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tool-timeouts-'));
  for (const name of ['ffmpeg', 'ffprobe']) {
    await writeFile(join(dir, name), HANGS);
    await chmod(join(dir, name), 0o755);
  }
  process.env.FFMPEG_PATH = join(dir, 'ffmpeg');
});

afterAll(async () => {
  if (savedPath === undefined) delete process.env.FFMPEG_PATH;
  else process.env.FFMPEG_PATH = savedPath;
  await rm(dir, { recursive: true, force: true });
});

describe('tool time limits', () => {
  it('writeMp4 kills a hanging ffmpeg, says so, and leaves no partial file', async () => {
    const out = join(dir, 'out.mp4');
    const err = await writeMp4(out, new Uint8Array(2 * 2 * 3), 1, 2, 2, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolTimeoutError);
    expect((err as Error).message).toBe('ffmpeg did not finish within 200 ms and was stopped.');
    expect((await readdir(dir)).filter((f) => f.startsWith('out.mp4'))).toEqual([]);
  }, 10_000);

  it('probeVideo kills a hanging ffprobe', async () => {
    await writeFile(join(dir, 'in.mp4'), 'not really a video');
    const err = await probeVideo(join(dir, 'in.mp4'), { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolTimeoutError);
    expect((err as Error).message).toBe('ffprobe did not finish within 200 ms and was stopped.');
  }, 10_000);
});
