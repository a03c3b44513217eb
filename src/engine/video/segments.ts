// The growing video as encoded pieces, so that no frame is ever encoded twice and bytes written grow
// linearly with the video's length. Each section's final frames become one H.264 segment (an mp4 of
// its own, same encoder settings); the few float frames still to be blended (the head) are encoded
// as a small clip whenever a playable video is wanted. Every piece is encoded without B-frames
// (mp4.ts `joinable`) so that stream-copied joins keep every frame. Playable videos are ffmpeg concat-demuxer
// joins (stream copy, no re-encode) of the segments in playback order: inverted sampling makes the
// end of the video first, so its segments play in reverse generation order with the head in front;
// forward sampling appends, so the head plays last.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { resolveFfmpeg } from '../../util/ffmpeg.ts';
import { runTool } from '../../util/run-tool.ts';
import { writeMp4, MP4_TIMEOUT_MS, type Mp4Options } from './mp4.ts';

/** One encoded piece of the video, named relative to the job's work directory. */
export interface VideoSegment {
  file: string;
  frames: number;
  /** sha256 of the file, checked before a resume builds on it. */
  sha256: string;
  bytes: number;
}

export interface SegmentEncoding {
  fps: number;
  crf?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface FrameSize {
  width: number;
  height: number;
}

export class SegmentedVideo {
  constructor(
    readonly workDir: string,
    /** True when the video grows at its end (forward sampling). */
    readonly growsAtEnd: boolean,
    /** Finished segments in generation order. */
    readonly segments: VideoSegment[] = [],
  ) {}

  /** Frames in the finished segments. */
  get frames(): number {
    return this.segments.reduce((n, s) => n + s.frames, 0);
  }

  /** Bytes of the finished segments. */
  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }

  /** Encodes final frames (rgb24, video order) as the next segment. */
  async add(rgb: Uint8Array, size: FrameSize, enc: SegmentEncoding): Promise<VideoSegment | undefined> {
    const frames = rgb.length / (size.width * size.height * 3);
    if (frames === 0) return undefined;
    const file = `segment-${String(this.segments.length + 1).padStart(4, '0')}.mp4`;
    const path = join(this.workDir, file);
    await writeMp4(path, rgb, frames, size.width, size.height, encodingOf(enc));
    const segment: VideoSegment = { file, frames, sha256: await sha256File(path), bytes: (await stat(path)).size };
    this.segments.push(segment);
    return segment;
  }

  /** Encodes the head (rgb24 frames not yet final) as a clip to join in front of or after the segments. */
  async writeHead(rgb: Uint8Array, size: FrameSize, enc: SegmentEncoding, name: string): Promise<string | undefined> {
    const frames = rgb.length / (size.width * size.height * 3);
    if (frames === 0) return undefined;
    const path = join(this.workDir, name);
    await writeMp4(path, rgb, frames, size.width, size.height, encodingOf(enc));
    return path;
  }

  /** Paths in playback order: `head` (if any) on the growing side, then the chosen segments. */
  playback(segments: readonly VideoSegment[], head?: string): string[] {
    const files = segments.map((s) => join(this.workDir, s.file));
    const ordered = this.growsAtEnd ? files : files.reverse();
    if (head === undefined) return ordered;
    return this.growsAtEnd ? [...ordered, head] : [head, ...ordered];
  }

  /** The whole video: every segment (and the head clip, if given), joined into `out`. */
  async assembleAll(out: string, head: string | undefined, signal?: AbortSignal): Promise<void> {
    await concatMp4(this.playback(this.segments, head), out, signal);
  }

  /** The newest frames: the head clip and the newest segment, joined into `out`. */
  async assembleNewest(out: string, head: string | undefined, signal?: AbortSignal): Promise<void> {
    await concatMp4(this.playback(this.segments.slice(-1), head), out, signal);
  }
}

function encodingOf(enc: SegmentEncoding): Mp4Options {
  return { fps: enc.fps, joinable: true, ...(enc.crf !== undefined && { crf: enc.crf }), ...(enc.signal && { signal: enc.signal }) };
}

/**
 * Joins mp4 files encoded with the same settings into one, by stream copy (ffmpeg's concat
 * demuxer): the result decodes to exactly the frames of the parts, one after another. Written to a
 * temporary name and renamed, like every video the engine writes.
 */
export async function concatMp4(parts: readonly string[], out: string, signal?: AbortSignal): Promise<void> {
  if (parts.length === 0) throw new Error('concatMp4: nothing to join.');
  const ff = await resolveFfmpeg();
  const list = `${out}.parts.txt`;
  const tmp = `${out}.partial.mp4`;
  // The demuxer reads names relative to the list's own folder, so the list names files by absolute
  // path; quote marks in a name are escaped as the demuxer wants.
  await writeFile(list, parts.map((p) => `file '${resolve(p).replaceAll("'", "'\\''")}'\n`).join(''));
  try {
    await runTool(ff.path, [
      '-hide_banner', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list,
      '-c', 'copy', '-movflags', '+faststart', tmp,
    ], { signal, timeoutMs: MP4_TIMEOUT_MS, name: 'ffmpeg' });
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await rm(list, { force: true });
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A segment's file name is one plain name inside the work directory (checked on resume). */
export function isPlainSegmentName(file: string): boolean {
  return file === basename(file) && /^segment-\d{4,}\.mp4$/.test(file);
}
