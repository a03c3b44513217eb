// Writes rgb24 frames to an H.264 mp4 (yuv420p, +faststart) by piping raw frames into ffmpeg.
// The file appears atomically (written to a temporary name, then renamed), so a reader never sees
// a half-written video and a cancelled write leaves nothing behind.
import { spawn } from 'node:child_process';
import { rename, rm } from 'node:fs/promises';
import { resolveFfmpeg } from '../../util/ffmpeg.ts';

export interface Mp4Options {
  fps?: number;
  crf?: number;
  signal?: AbortSignal;
}

export async function writeMp4(path: string, frames: Uint8Array, count: number, width: number, height: number, opts: Mp4Options = {}): Promise<void> {
  if (frames.length !== count * width * height * 3) throw new Error(`writeMp4: ${frames.length} bytes for ${count} frames of ${width}×${height}.`);
  const ff = await resolveFfmpeg();
  const tmp = `${path}.partial.mp4`;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(opts.fps ?? 30), '-i', 'pipe:0',
    '-c:v', 'libx264', '-preset', 'medium', '-crf', String(opts.crf ?? 16), '-pix_fmt', 'yuv420p',
    '-movflags', '+faststart', '-threads', '2', tmp,
  ];
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(ff.path, args, { stdio: ['pipe', 'ignore', 'pipe'], signal: opts.signal });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed (${code}): ${stderr.trim().slice(-500)}`))));
      child.stdin.on('error', () => undefined); // a failing ffmpeg closes stdin; 'close' reports why
      child.stdin.end(Buffer.from(frames.buffer, frames.byteOffset, frames.byteLength));
    });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
