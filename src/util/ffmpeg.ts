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
        'Run `npm install` again (it brings @ffmpeg-installer/ffmpeg, and ffmpeg-static where its download works), ' +
        'set FFMPEG_PATH to an ffmpeg binary, or install the system package (apt-get install ffmpeg).',
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

/** Where each candidate lives; tests replace them to check the order and the fallbacks. */
export interface FfmpegSources {
  ffmpegStatic: () => string | undefined;
  ffmpegInstaller: () => string | undefined;
  /** The command looked up on PATH. */
  system: string;
}

export const npmFfmpegSources: FfmpegSources = { ffmpegStatic: ffmpegStaticPath, ffmpegInstaller: ffmpegInstallerPath, system: 'ffmpeg' };

/** The first candidate, in order FFMPEG_PATH → ffmpeg-static → @ffmpeg-installer → system, that runs and has libx264. */
export async function findFfmpeg(envPath: string | undefined, sources: FfmpegSources): Promise<FfmpegInfo> {
  const candidates: Array<[FfmpegInfo['source'], string | undefined]> = [
    ['FFMPEG_PATH', envPath],
    ['ffmpeg-static', sources.ffmpegStatic()],
    ['@ffmpeg-installer', sources.ffmpegInstaller()],
    ['system', sources.system],
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
}

let cached: Promise<FfmpegInfo> | undefined;

export function resolveFfmpeg(envPath = process.env.FFMPEG_PATH): Promise<FfmpegInfo> {
  if (envPath === process.env.FFMPEG_PATH && cached) return cached;
  const found = findFfmpeg(envPath, npmFfmpegSources);
  if (envPath === process.env.FFMPEG_PATH) cached = found;
  return found;
}

/** ffprobe next to the given ffmpeg, else @ffprobe-installer's binary, else the system one. */
export function ffprobeFor(ffmpegPath: string, installer: () => string | undefined = ffprobeInstallerPath): string {
  const sibling = ffmpegPath.replace(/ffmpeg(\.exe)?$/, 'ffprobe$1');
  if (sibling !== ffmpegPath && existsSync(sibling)) return sibling;
  return installer() ?? 'ffprobe';
}

/** ffprobe next to the resolved ffmpeg, else @ffprobe-installer's binary, else the system one. */
export async function resolveFfprobe(): Promise<string> {
  return ffprobeFor((await resolveFfmpeg()).path);
}
