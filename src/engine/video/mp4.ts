// Writes rgb24 frames to an H.264 mp4 (yuv420p, +faststart) by piping raw frames into ffmpeg.
// The file appears atomically (written to a temporary name, then renamed), so a reader never sees
// a half-written video and a cancelled write leaves nothing behind. A time limit stops an ffmpeg
// that hangs (the job fails with a sentence naming the limit instead of running forever).
import { rename, rm } from 'node:fs/promises';
import { resolveFfmpeg } from '../../util/ffmpeg.ts';
import { runTool } from '../../util/run-tool.ts';

/** Ten minutes: a 120 s 720p clip encodes in well under that on a slow CPU. */
export const MP4_TIMEOUT_MS = 10 * 60_000;

export interface Mp4Options {
  fps?: number;
  crf?: number;
  signal?: AbortSignal;
  /** Kills ffmpeg past this (MP4_TIMEOUT_MS by default). */
  timeoutMs?: number;
  /**
   * No B-frames: for pieces that are joined by stream copy. With B-frames each mp4 carries an edit
   * list that shifts its presentation times; joined by the concat demuxer, the shifted times of
   * neighbouring pieces collide and decoders drop frames (measured: 14 frames in, 12 out).
   */
  joinable?: boolean;
}

export async function writeMp4(path: string, frames: Uint8Array, count: number, width: number, height: number, opts: Mp4Options = {}): Promise<void> {
  if (frames.length !== count * width * height * 3) throw new Error(`writeMp4: ${frames.length} bytes for ${count} frames of ${width}×${height}.`);
  const ff = await resolveFfmpeg();
  const tmp = `${path}.partial.mp4`;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(opts.fps ?? 30), '-i', 'pipe:0',
    '-c:v', 'libx264', '-preset', 'medium', '-crf', String(opts.crf ?? 16), ...(opts.joinable ? ['-bf', '0'] : []), '-pix_fmt', 'yuv420p',
    '-movflags', '+faststart', '-threads', '2', tmp,
  ];
  try {
    await runTool(ff.path, args, { input: frames, signal: opts.signal, timeoutMs: opts.timeoutMs ?? MP4_TIMEOUT_MS, name: 'ffmpeg' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
