// Makes a finished video fit a platform's upload limit (Discord 10 MB, Telegram 50 MB…): a video
// that already fits is returned as-is; otherwise it is re-encoded once with a bitrate computed
// from the size budget and duration (downscaled when that bitrate is too thin for the frame),
// and once more, smaller, if the encoder overshot. Reading the file goes through the decoder
// ffmpeg/ffprobe (system first) with media-guard.ts's limits, each run under a time limit.
import { stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { resolveDecoderFfmpeg, resolveDecoderFfprobe } from '../../util/ffmpeg.ts';
import { DECODE_THREADS, findPrlimit, guardedInputArgs, memoryLimited, probeArgs, PROBE_TIMEOUT_MS } from '../../util/media-guard.ts';
import { runTool } from '../../util/run-tool.ts';

/** Share of the byte budget the video stream may use; the rest is mp4 overhead and encoder slack. */
const HEADROOM = 0.95;
/** Below this the result is not worth sending. */
const MIN_BITRATE = 48_000;
/** Bits per pixel per frame under which H.264 turns to mush; we downscale to stay above it. */
const MIN_BITS_PER_PIXEL = 0.05;
const MIN_SHORT_SIDE = 144;
const VBV_SLACK_SEC = 0.5;
const ENCODE_TIMEOUT_MS = 10 * 60_000;

export class VideoTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VideoTooLargeError';
  }
}

export interface FitResult {
  path: string;
  bytes: number;
  reencoded: boolean;
}

export interface VideoInfo {
  durationSec: number;
  width: number;
  height: number;
  fps: number;
}

export async function fitVideoToSize(
  input: string,
  maxBytes: number,
  opts: { workDir?: string; durationSec?: number } = {},
): Promise<FitResult> {
  const size = (await stat(input)).size;
  if (size <= maxBytes) return { path: input, bytes: size, reencoded: false };

  const info = await probeVideo(input);
  const durationSec = opts.durationSec ?? info.durationSec;
  if (!(durationSec > 0)) throw new VideoTooLargeError(`The video is ${mb(size)} and its length is unknown, so I cannot shrink it to ${mb(maxBytes)}.`);

  // x264 starts with a full VBV buffer and may spend about that much (our buffer is one second)
  // on top of the average, which is a lot on short clips: budget half a second for it.
  let bitrate = Math.floor((maxBytes * 8 * HEADROOM) / (durationSec + VBV_SLACK_SEC));
  let output = join(opts.workDir ?? dirname(input), `${basename(input, extname(input))}.fit.mp4`);
  if (resolve(output) === resolve(input)) output = output.replace(/\.mp4$/, '-2.mp4'); // never encode onto the input
  for (let attempt = 0; attempt < 2; attempt++) {
    if (bitrate < MIN_BITRATE) {
      throw new VideoTooLargeError(
        `The video is ${mb(size)} (${Math.round(durationSec)} s); fitting it into the ${mb(maxBytes)} upload limit would make it unwatchable.`,
      );
    }
    await encode(input, output, bitrate, scaledSize(info, bitrate));
    const bytes = (await stat(output)).size;
    if (bytes <= maxBytes) return { path: output, bytes, reencoded: true };
    // The encoder overshot: aim lower by the measured ratio, with a margin.
    bitrate = Math.floor(bitrate * (maxBytes / bytes) * 0.9);
  }
  await unlink(output).catch(() => undefined);
  throw new VideoTooLargeError(`The video is ${mb(size)} and I could not make it smaller than the ${mb(maxBytes)} upload limit.`);
}

/** Width and height (even numbers) that keep at least MIN_BITS_PER_PIXEL at this bitrate. */
export function scaledSize(info: VideoInfo, bitrate: number): { width: number; height: number } {
  const pixels = info.width * info.height;
  const affordable = bitrate / (info.fps * MIN_BITS_PER_PIXEL);
  let scale = affordable >= pixels ? 1 : Math.sqrt(affordable / pixels);
  const shortSide = Math.min(info.width, info.height);
  if (shortSide * scale < MIN_SHORT_SIDE) scale = Math.min(1, MIN_SHORT_SIDE / shortSide);
  return { width: even(info.width * scale), height: even(info.height * scale) };
}

export async function probeVideo(path: string, opts: { timeoutMs?: number } = {}): Promise<VideoInfo> {
  const ffprobe = await resolveDecoderFfprobe();
  const cmd = memoryLimited(ffprobe, probeArgs(path), findPrlimit());
  const { stdout } = await runTool(cmd.command, cmd.args, { timeoutMs: opts.timeoutMs ?? PROBE_TIMEOUT_MS, name: 'ffprobe' });
  const parsed = JSON.parse(stdout) as {
    streams?: Array<{ width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string }>;
    format?: { duration?: string };
  };
  const stream = parsed.streams?.[0];
  if (!stream?.width || !stream.height) throw new VideoTooLargeError('The video file has no readable video stream.');
  return {
    durationSec: Number(parsed.format?.duration ?? NaN),
    width: stream.width,
    height: stream.height,
    fps: rate(stream.avg_frame_rate) ?? rate(stream.r_frame_rate) ?? 30,
  };
}

async function encode(input: string, output: string, bitrate: number, size: { width: number; height: number }): Promise<void> {
  const ffmpeg = await resolveDecoderFfmpeg();
  const cmd = memoryLimited(
    ffmpeg.path,
    [
      '-hide_banner', '-loglevel', 'error', '-y',
      ...guardedInputArgs(input),
      '-an',
      '-vf', `scale=${size.width}:${size.height}`,
      '-c:v', 'libx264', '-preset', 'veryfast',
      '-b:v', String(bitrate), '-maxrate', String(bitrate), '-bufsize', String(bitrate),
      '-pix_fmt', 'yuv420p',
      '-movflags', '+faststart',
      '-threads', String(DECODE_THREADS), // few threads keep the address space well under the prlimit cap
      output,
    ],
    findPrlimit(),
  );
  await runTool(cmd.command, cmd.args, { timeoutMs: ENCODE_TIMEOUT_MS, name: 'ffmpeg' });
}

function rate(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const [num, den] = text.split('/').map(Number);
  const value = den ? num! / den : num!;
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

function mb(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
}
