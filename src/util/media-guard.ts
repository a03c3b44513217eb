// How ffmpeg/ffprobe are run on a media file we did not write ourselves: inputs only through the
// file protocol (a crafted file cannot make the demuxer open http:, concat:, subfile: and the
// like), only the mp4/mov and Matroska/WebM demuxers and common decoders, a fixed thread count, a time limit (run-tool.ts), and an address-space cap through
// util-linux's prlimit where it is installed (Node's spawn cannot set rlimits itself). Pure
// argument builders, so the guards are tested without running anything.
import { existsSync } from 'node:fs';

/** Timeout for one ffprobe run: it reads headers only. */
export const PROBE_TIMEOUT_MS = 30_000;
/** Address-space cap for a decoding child: far above a 720p decode + x264 encode, far below the host. */
export const DECODE_MAX_ADDRESS_SPACE_BYTES = 4 * 1024 ** 3;
/** Threads for a decoding child; also keeps its address space (stacks, frame pools) predictable. */
export const DECODE_THREADS = 4;

/**
 * Demuxers a media file may be opened with: mp4/mov (and m4v, 3gp) and Matroska/WebM. A file that
 * claims anything else (a playlist, an image sequence, one of ffmpeg's hundreds of rarely audited
 * demuxers) is refused before it is parsed.
 */
export const MEDIA_FORMATS = 'mov,matroska';
/** Decoders a media file may use: the video codecs phones and browsers write, and their audio. */
export const MEDIA_CODECS = 'h264,hevc,vp8,vp9,av1,libdav1d,aac,opus,mp3';

/** Whitelists every read of a media file gets: protocol (file only), demuxers, decoders. */
function whitelistArgs(): string[] {
  return ['-protocol_whitelist', 'file', '-format_whitelist', MEDIA_FORMATS, '-codec_whitelist', MEDIA_CODECS];
}

/** `-i` for a media file: the whitelists, a fixed thread count, the path forced to be read as a file name. */
export function guardedInputArgs(path: string): string[] {
  return [...whitelistArgs(), '-threads', String(DECODE_THREADS), '-i', fileInput(path)];
}

/** ffprobe's arguments for the first video stream's size, rate and the duration, as JSON. */
export function probeArgs(path: string): string[] {
  return [
    '-v', 'error',
    ...whitelistArgs(),
    '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,avg_frame_rate,r_frame_rate:format=duration',
    '-of', 'json',
    fileInput(path),
  ];
}

/** "file:" in front: a name like "concat:a|b" or "-y" is then only ever a file name. */
function fileInput(path: string): string {
  return `file:${path}`;
}

/** The command and arguments that run `binary args` under an address-space cap, when prlimit exists. */
export function memoryLimited(binary: string, args: string[], prlimit: string | undefined, maxBytes = DECODE_MAX_ADDRESS_SPACE_BYTES): { command: string; args: string[] } {
  if (!prlimit) return { command: binary, args };
  return { command: prlimit, args: [`--as=${maxBytes}`, '--', binary, ...args] };
}

/** util-linux's prlimit (Debian: in the essential util-linux package), if this machine has it. */
export function findPrlimit(candidates = ['/usr/bin/prlimit', '/bin/prlimit']): string | undefined {
  return candidates.find((p) => existsSync(p));
}
