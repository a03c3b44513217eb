// Finds an ffmpeg binary with libx264: FFMPEG_PATH → ffmpeg-static (optional dependency; its binary is
// downloaded at install and may be absent) → @ffmpeg-installer's in-package binary → system ffmpeg.
// ffprobe: next to the chosen ffmpeg, else @ffprobe-installer's in-package binary, else the system one.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FfmpegInfo {
  path: string;
  source: 'FFMPEG_PATH' | 'ffmpeg-static' | '@ffmpeg-installer' | 'system';
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

const require = createRequire(import.meta.url);

/** A binary path exported by an npm package, if the package and its binary are present. */
function packagedBinary(pkg: string, pick: (mod: unknown) => unknown): string | undefined {
  try {
    const p = pick(require(pkg));
    return typeof p === 'string' && existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

const ffmpegStaticPath = () => packagedBinary('ffmpeg-static', (m) => m);
const ffmpegInstallerPath = () => packagedBinary('@ffmpeg-installer/ffmpeg', (m) => (m as { path?: string }).path);
const ffprobeInstallerPath = () => packagedBinary('@ffprobe-installer/ffprobe', (m) => (m as { path?: string }).path);

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
      ['@ffmpeg-installer', ffmpegInstallerPath()],
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

/** ffprobe next to the resolved ffmpeg, else @ffprobe-installer's binary, else the system one. */
export async function resolveFfprobe(): Promise<string> {
  const ff = await resolveFfmpeg();
  const sibling = ff.path.replace(/ffmpeg(\.exe)?$/, 'ffprobe$1');
  if (sibling !== ff.path && existsSync(sibling)) return sibling;
  return ffprobeInstallerPath() ?? 'ffprobe';
}
