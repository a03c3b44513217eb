// The segmented video: segments joined by stream copy decode to exactly the frames of the parts, in
// playback order for both directions (inverted sampling prepends, forward appends), with the head
// clip on the growing side; no frame is re-encoded.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatMp4, isPlainSegmentName, SegmentedVideo, sha256File } from '../../../src/engine/video/segments.ts';
import { resolveFfmpeg } from '../../../src/util/ffmpeg.ts';

const run = promisify(execFile);
const size = { width: 64, height: 48 };
const plane = size.width * size.height * 3;
const enc = { fps: 30, crf: 16 };

async function decode(path: string): Promise<Buffer> {
  const ff = await resolveFfmpeg();
  const { stdout } = await run(ff.path, ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 26 });
  return stdout;
}

/** `n` frames, each a distinct gradient so that a swapped or lost frame shows. */
function frames(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n * plane);
  for (let f = 0; f < n; f++) {
    for (let i = 0; i < plane; i++) out[f * plane + i] = (seed * 37 + f * 53 + (i % 192) + Math.floor(i / 192) * 3) & 0xff;
  }
  return out;
}

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'segments-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('SegmentedVideo', () => {
  for (const growsAtEnd of [false, true]) {
    it(`joins segments in playback order by stream copy (${growsAtEnd ? 'forward: appends' : 'inverted: prepends'})`, async () => {
      const work = await mkdtemp(join(dir, growsAtEnd ? 'fwd-' : 'inv-'));
      const video = new SegmentedVideo(work, growsAtEnd);
      const parts = [frames(5, 1), frames(3, 2), frames(4, 3)];
      for (const p of parts) await video.add(p, size, enc);
      expect(video.segments.map((s) => s.file)).toEqual(['segment-0001.mp4', 'segment-0002.mp4', 'segment-0003.mp4']);
      expect(video.frames).toBe(12);
      for (const s of video.segments) {
        expect(s.sha256).toBe(await sha256File(join(work, s.file)));
        expect(s.bytes).toBe((await stat(join(work, s.file))).size);
      }
      const head = await video.writeHead(frames(2, 9), size, enc, 'head.mp4');
      const out = join(work, 'whole.mp4');
      await video.assembleAll(out, head);

      // Each part decoded alone, in playback order, is what the joined video decodes to.
      const decodedParts = await Promise.all([...video.segments.map((s) => join(work, s.file))].map(decode));
      const headDecoded = await decode(head!);
      const inOrder = growsAtEnd ? [...decodedParts, headDecoded] : [headDecoded, ...decodedParts.reverse()];
      const whole = await decode(out);
      expect(whole.length).toBe(14 * plane);
      expect(Buffer.compare(whole, Buffer.concat(inOrder))).toBe(0);

      const newest = join(work, 'newest.mp4');
      await video.assembleNewest(newest, head);
      const newestInOrder = growsAtEnd ? [decodedParts.at(-1)!, headDecoded] : [headDecoded, decodedParts[0]!];
      // (decodedParts was reversed above for the inverted case: its first entry is the newest segment.)
      expect(Buffer.compare(await decode(newest), Buffer.concat(newestInOrder))).toBe(0);
    });
  }

  it('joins a video whose work directory is given relative to the current directory (as the CLI does)', async () => {
    const work = relative(process.cwd(), await mkdtemp(join(dir, 'rel-')));
    const video = new SegmentedVideo(work, false);
    await video.add(frames(3, 4), size, enc);
    const head = await video.writeHead(frames(1, 5), size, enc, 'head.mp4');
    await video.assembleAll(join(work, 'whole.mp4'), head);
    expect((await decode(join(work, 'whole.mp4'))).length).toBe(4 * plane);
  });

  it('writes nothing for an empty batch of final frames', async () => {
    const video = new SegmentedVideo(await mkdtemp(join(dir, 'empty-')), false);
    expect(await video.add(new Uint8Array(0), size, enc)).toBeUndefined();
    expect(video.segments).toEqual([]);
  });

  it('refuses to join nothing', async () => {
    await expect(concatMp4([], join(dir, 'x.mp4'))).rejects.toThrow(/nothing to join/);
  });

  it('accepts only plain segment names (a checkpoint cannot point outside its work directory)', () => {
    expect(isPlainSegmentName('segment-0001.mp4')).toBe(true);
    expect(isPlainSegmentName('segment-12345.mp4')).toBe(true);
    expect(isPlainSegmentName('../segment-0001.mp4')).toBe(false);
    expect(isPlainSegmentName('/etc/passwd')).toBe(false);
    expect(isPlainSegmentName('segment-1.mp4')).toBe(false);
    expect(isPlainSegmentName('final.mp4')).toBe(false);
  });
});
