// A resume checkpoint is location-independent: moved to another directory (another machine's work
// dir in scale-out mode) with the video segments it names, after a middle section or after the last
// one, it resumes to the same frames as an uninterrupted run; without its segments, or naming files
// that are not its own, it is not used and the job starts over. Tiny model set, real code.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFramePackEngine } from '../../../src/engine/framepack.ts';
import { planSections } from '../../../src/engine/functions/index.ts';
import { makeTinyModelSet } from '../../../src/engine/conversion/tiny.ts';
import { CHECKPOINT_FILE } from '../../../src/engine/pipeline/checkpoint.ts';
import { EngineCancelledError, type Engine } from '../../../src/engine/types.ts';
import { jobOptions } from '../../../src/options/job-options.ts';
import { resolveFfmpeg } from '../../../src/util/ffmpeg.ts';

const run = promisify(execFile);
let root: string;
let image: string;
let engine: Engine;
const options = jobOptions({ steps: 2, windowSize: 3, previews: false, seconds: 0.8 });
const never = new AbortController().signal;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'recurvid-cp-move-'));
  await makeTinyModelSet(join(root, 'tiny'), { seed: 7 });
  image = join(root, 'start.png');
  const w = 80, h = 64;
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([x * 3, y * 2, (x * y) % 256], (y * w + x) * 3);
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(image);
  engine = await createFramePackEngine({ modelDir: join(root, 'tiny'), provider: 'cpu', resolution: 64 });
});

afterAll(async () => {
  await engine?.close();
  await rm(root, { recursive: true, force: true });
});

async function frames(path: string): Promise<Buffer> {
  const ff = await resolveFfmpeg();
  const { stdout } = await run(ff.path, ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 28 });
  return stdout;
}

/** Runs the job in `workDir`: the sections it sampled and the stage notes it gave. */
async function resume(workDir: string) {
  const sampled = new Set<number>();
  const details: string[] = [];
  const result = await engine.run({
    imagePath: image, workDir, options, signal: never,
    onEvent: (e) => {
      if (e.type === 'step') sampled.add(e.section);
      if (e.type === 'stage' && e.detail) details.push(e.detail);
    },
  });
  return { result, sampled: [...sampled], details };
}

describe('a moved resume checkpoint', () => {
  it('resumes in another directory after a middle section and after the last one', async () => {
    expect(planSections(options.seconds, options.windowSize)).toHaveLength(2);
    const fullDir = join(root, 'full');
    const full = await engine.run({ imagePath: image, workDir: fullDir, options, signal: never, onEvent: () => undefined });
    const expected = await frames(full.videoPath);
    expect(expected.length).toBeGreaterThan(0);

    // After section 1: the whole work dir moves (checkpoint and section video) to a new place.
    const firstDir = join(root, 'machine-a');
    const ac = new AbortController();
    await expect(engine.run({
      imagePath: image, workDir: firstDir, options, signal: ac.signal,
      onEvent: (e) => { if (e.type === 'section' && e.section === 1) ac.abort(); },
    })).rejects.toBeInstanceOf(EngineCancelledError);
    const movedDir = join(root, 'machine-b', 'work');
    await mkdir(join(root, 'machine-b'));
    await rename(firstDir, movedDir);
    const middle = await resume(movedDir);
    expect(middle.result.resumed).toBe(true);
    expect(middle.sampled).toEqual([2]);
    expect((await frames(middle.result.videoPath)).equals(expected)).toBe(true);

    // After the last section: the checkpoint and its segments reach the new machine (what a GPU
    // worker fetches), no section video: nothing is sampled, the segments are joined as they are.
    const lastOnly = join(root, 'machine-c');
    await mkdir(lastOnly);
    const segments = (await readdir(fullDir)).filter((f) => f.startsWith('segment-'));
    // Section 1's frames all stay float (the next section blends them), so section 2 makes the one segment.
    expect(segments).toEqual(['segment-0001.mp4']);
    for (const f of [CHECKPOINT_FILE, ...segments]) await copyFile(join(fullDir, f), join(lastOnly, f));
    const end = await resume(lastOnly);
    expect(end.result.resumed).toBe(true);
    expect(end.sampled).toEqual([]); // nothing sampled again
    expect(end.result.frames).toBe(full.frames);
    expect((await frames(end.result.videoPath)).equals(expected)).toBe(true);

    // The checkpoint alone: its first segment is missing, so it is not used (the job starts over).
    const bare = join(root, 'machine-d');
    await mkdir(bare);
    await copyFile(join(fullDir, CHECKPOINT_FILE), join(bare, CHECKPOINT_FILE));
    const over = await resume(bare);
    expect(over.details.some((d) => d.includes('segment-0001.mp4 is missing'))).toBe(true);
    expect(over.result.resumed).toBe(false);
    expect(over.sampled).toEqual([1, 2]);
    expect((await frames(over.result.videoPath)).equals(expected)).toBe(true);
  });

  it('refuses a checkpoint that names a segment outside its work directory (a path, a symlink out) or one that changed: the job starts over and posts its own video', async () => {
    const cleanDir = join(root, 'clean');
    const clean = await engine.run({ imagePath: image, workDir: cleanDir, options, signal: never, onEvent: () => undefined });
    const expected = await frames(clean.videoPath);
    const checkpoint = await readFile(join(cleanDir, CHECKPOINT_FILE));
    const listed = JSON.parse(metadataOf(checkpoint).segments!) as Array<{ file: string; sha256: string }>;
    expect(listed.map((s) => s.file)).toEqual(['segment-0001.mp4']);
    // "Someone else's file": a real video, but not this job's.
    const theirs = join(root, 'theirs.mp4');
    await copyFile(join(cleanDir, 'segment-0001.mp4'), theirs);

    for (const [name, file, link, why] of [
      ['absolute', theirs, undefined, 'outside the job'],
      ['dot-dot', '../theirs.mp4', undefined, 'outside the job'],
      ['symlink', 'segment-0001.mp4', theirs, 'outside the job'],
      ['changed', 'segment-0001.mp4', 'changed', 'has changed'],
    ] as const) {
      const dir = join(root, `tampered-${name}`);
      await mkdir(dir);
      const segments = listed.map((s, i) => (i === 0 ? { ...s, file } : s));
      await writeFile(join(dir, CHECKPOINT_FILE), withMetadata(checkpoint, { segments: JSON.stringify(segments) }));
      if (link === 'changed') await writeFile(join(dir, 'segment-0001.mp4'), Buffer.concat([await readFile(theirs), Buffer.from([0])]));
      else if (link) await symlink(link, join(dir, 'segment-0001.mp4'));
      const { result, sampled, details } = await resume(dir);
      expect(details.some((d) => d.includes(why)), name).toBe(true);
      expect(result.resumed, name).toBe(false);
      expect(sampled, name).toEqual([1, 2]); // started over
      expect((await frames(result.videoPath)).equals(expected), name).toBe(true);
    }
  });
});

describe('a checkpoint that cannot be read', () => {
  it('(torn, or not a checkpoint at all) restarts the job from its first section with a note, instead of failing every resume', async () => {
    const cleanDir = join(root, 'clean-for-torn');
    const clean = await engine.run({ imagePath: image, workDir: cleanDir, options, signal: never, onEvent: () => undefined });
    const expected = await frames(clean.videoPath);
    const whole = await readFile(join(cleanDir, CHECKPOINT_FILE));
    for (const [name, bytes] of [
      ['torn', whole.subarray(0, Math.floor(whole.length / 2))],
      ['garbage', Buffer.from('not a safetensors file at all')],
    ] as const) {
      const dir = join(root, `unreadable-${name}`);
      await mkdir(dir);
      await writeFile(join(dir, CHECKPOINT_FILE), bytes);
      const { result, sampled, details } = await resume(dir);
      expect(details.some((d) => /saved progress was not used \(it could not be read/.test(d)), name).toBe(true);
      expect(sampled, name).toEqual([1, 2]);
      expect((await frames(result.videoPath)).equals(expected), name).toBe(true);
    }
  });
});

describe('refusals before saved progress', () => {
  it('an F1 job with an end image is refused with its sentence before the work dir is read (a corrupt checkpoint there changes nothing)', async () => {
    const dir = join(root, 'refused-f1');
    await mkdir(dir);
    await writeFile(join(dir, CHECKPOINT_FILE), Buffer.from('not a safetensors file'));
    await expect(engine.run({ imagePath: image, endImagePath: image, workDir: dir, options: { ...options, model: 'f1' }, signal: never, onEvent: () => undefined }))
      .rejects.toThrow(/An end image works only with model=original/);
  });
});

function metadataOf(file: Buffer): Record<string, string> {
  const headerLength = Number(file.readBigUInt64LE(0));
  return (JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as { __metadata__: Record<string, string> }).__metadata__;
}

/** The same safetensors file with metadata entries replaced (the header is length-prefixed JSON). */
function withMetadata(file: Buffer, entries: Record<string, string>): Buffer {
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as { __metadata__: Record<string, string> };
  Object.assign(header.__metadata__, entries);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(padded.length));
  return Buffer.concat([length, padded, file.subarray(8 + headerLength)]);
}
