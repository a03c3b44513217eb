// Finds an ffmpeg binary with libx264: FFMPEG_PATH → ffmpeg-static (optional dependency) → system ffmpeg.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FfmpegInfo {
  path: string;
  source: 'FFMPEG_PATH' | 'ffmpeg-static' | 'system';
  version: string;
  hasX264: boolean;
}

export class FfmpegMissingError extends Error {
  constructor(tried: string[]) {
    super(
      `No usable ffmpeg with libx264 was found. Tried: ${tried.join('; ')}. ` +
        'Set FFMPEG_PATH to an ffmpeg binary, install the optional npm package ffmpeg-static, ' +
        'or install the system package (apt-get install ffmpeg).',
    );
    this.name = 'FfmpegMissingError';
  }
}

function ffmpegStaticPath(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const p = require('ffmpeg-static') as string | null;
    return p && existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

async function probe(path: string): Promise<{ version: string; hasX264: boolean } | undefined> {
  try {
    const { stdout } = await run(path, ['-hide_banner', '-version'], { timeout: 10_000 });
    const { stdout: enc } = await run(path, ['-hide_banner', '-encoders'], { timeout: 10_000 });
    return { version: stdout.split('\n')[0] ?? '', hasX264: /\blibx264\b/.test(enc) };
  } catch {
    return undefined;
  }
}

let cached: Promise<FfmpegInfo> | undefined;

export function resolveFfmpeg(envPath = process.env.FFMPEG_PATH): Promise<FfmpegInfo> {
  if (envPath === process.env.FFMPEG_PATH && cached) return cached;
  const found = (async () => {
    const candidates: Array<[FfmpegInfo['source'], string | undefined]> = [
      ['FFMPEG_PATH', envPath],
      ['ffmpeg-static', ffmpegStaticPath()],
      ['system', 'ffmpeg'],
    ];
    const tried: string[] = [];
    for (const [source, path] of candidates) {
      if (!path) {
        tried.push(`${source} (not set or not installed)`);
        continue;
      }
      const info = await probe(path);
      if (info?.hasX264) return { path, source, ...info };
      tried.push(`${source} ${path} (${info ? 'no libx264' : 'not runnable'})`);
    }
    throw new FfmpegMissingError(tried);
  })();
  if (envPath === process.env.FFMPEG_PATH) cached = found;
  return found;
}

/** ffprobe next to the resolved ffmpeg, or the system one. */
export async function resolveFfprobe(): Promise<string> {
  const ff = await resolveFfmpeg();
  const sibling = ff.path.replace(/ffmpeg(\.exe)?$/, 'ffprobe$1');
  if (sibling !== ff.path && existsSync(sibling)) return sibling;
  return 'ffprobe';
}
