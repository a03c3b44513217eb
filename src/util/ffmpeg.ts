// Finds an ffmpeg binary with libx264: FFMPEG_PATH → ffmpeg-static (optional dependency; its binary is
// downloaded at install and may be absent) → @ffmpeg-installer's in-package binary → system ffmpeg.
// ffprobe: next to the chosen ffmpeg, else @ffprobe-installer's in-package binary, else the system one.
// Decoding media we did not write (probing, re-encoding a file) prefers the system ffmpeg after
// FFMPEG_PATH: Debian's package gets security updates, the npm binaries are frozen builds (the
// @ffmpeg-installer one is from 2018). Encoding our own frames keeps the npm-first order.
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

/** 'encode': our own frames to mp4; 'decode': reading a media file (probe, re-encode). */
export type FfmpegPurpose = 'encode' | 'decode';

/**
 * The candidates in the order they are tried. encode: FFMPEG_PATH → ffmpeg-static →
 * @ffmpeg-installer → system; decode: FFMPEG_PATH → system → ffmpeg-static → @ffmpeg-installer.
 */
export function ffmpegCandidates(purpose: FfmpegPurpose, envPath: string | undefined, sources: FfmpegSources): Array<[FfmpegInfo['source'], string | undefined]> {
  const packaged: Array<[FfmpegInfo['source'], string | undefined]> = [
    ['ffmpeg-static', sources.ffmpegStatic()],
    ['@ffmpeg-installer', sources.ffmpegInstaller()],
  ];
  const system: [FfmpegInfo['source'], string] = ['system', sources.system];
  return purpose === 'decode' ? [['FFMPEG_PATH', envPath], system, ...packaged] : [['FFMPEG_PATH', envPath], ...packaged, system];
}

/** The first candidate (see ffmpegCandidates) that runs and has libx264. */
export async function findFfmpeg(envPath: string | undefined, sources: FfmpegSources, purpose: FfmpegPurpose = 'encode'): Promise<FfmpegInfo> {
  const candidates = ffmpegCandidates(purpose, envPath, sources);
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

// One lookup per purpose and FFMPEG_PATH value (a changed FFMPEG_PATH is looked up afresh).
const cached = new Map<string, Promise<FfmpegInfo>>();

function resolveFor(purpose: FfmpegPurpose, envPath: string | undefined): Promise<FfmpegInfo> {
  const key = `${purpose}\0${envPath ?? ''}`;
  let found = cached.get(key);
  if (!found) {
    found = findFfmpeg(envPath, npmFfmpegSources, purpose);
    cached.set(key, found);
    found.catch(() => cached.delete(key)); // a failed lookup is retried next time
  }
  return found;
}

/** The ffmpeg that encodes our own frames (npm binaries first). */
export function resolveFfmpeg(envPath = process.env.FFMPEG_PATH): Promise<FfmpegInfo> {
  return resolveFor('encode', envPath);
}

/** The ffmpeg that reads media files (system first, for its security updates). */
export function resolveDecoderFfmpeg(envPath = process.env.FFMPEG_PATH): Promise<FfmpegInfo> {
  return resolveFor('decode', envPath);
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

/** The ffprobe that pairs with a decoder: a system ffmpeg found on PATH comes with its ffprobe on PATH. */
export function decoderFfprobe(ff: Pick<FfmpegInfo, 'path' | 'source'>, installer: () => string | undefined = ffprobeInstallerPath): string {
  if (ff.source === 'system' && !ff.path.includes('/')) return 'ffprobe';
  return ffprobeFor(ff.path, installer);
}

/** The ffprobe that reads media files: the decoder's (see decoderFfprobe). */
export async function resolveDecoderFfprobe(): Promise<string> {
  return decoderFfprobe(await resolveDecoderFfmpeg());
}
