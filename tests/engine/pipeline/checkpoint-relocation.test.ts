// A resume checkpoint is location-independent: moved to another directory (another machine's work
// dir in scale-out mode), after a middle section or after the last one, with or without the section
// videos next to it, it resumes to the same frames as an uninterrupted run. Tiny model set, real code.
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
import { EngineCancelledError, defaultAnimateOptions, type Engine } from '../../../src/engine/types.ts';
import { resolveFfmpeg } from '../../../src/util/ffmpeg.ts';

const run = promisify(execFile);
let root: string;
let image: string;
let engine: Engine;
const options = defaultAnimateOptions({ steps: 2, windowSize: 3, previews: false, seconds: 0.8 });
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

    // After the last section: only the checkpoint reaches the new machine (no section video).
    const lastOnly = join(root, 'machine-c');
    await mkdir(lastOnly);
    await copyFile(join(fullDir, CHECKPOINT_FILE), join(lastOnly, CHECKPOINT_FILE));
    const end = await resume(lastOnly);
    expect(end.result.resumed).toBe(true);
    expect(end.sampled).toEqual([]); // nothing sampled again
    expect(end.result.frames).toBe(full.frames);
    expect((await frames(end.result.videoPath)).equals(expected)).toBe(true);

    // After the last section with its video alongside (the GPU worker fetches it), the original
    // gone: the checkpoint finds the video by its relative name, nothing is sampled or re-encoded.
    const withVideo = join(root, 'machine-d');
    await rename(fullDir, withVideo);
    expect((await readdir(withVideo)).filter((f) => f.startsWith('section-'))).toHaveLength(2);
    const copied = await resume(withVideo);
    expect(copied.sampled).toEqual([]);
    expect((await frames(copied.result.videoPath)).equals(expected)).toBe(true);
  });

  it('refuses a checkpoint that names a video outside its work directory (a path, or a symlink out): the job starts over and posts its own video', async () => {
    const cleanDir = join(root, 'clean');
    const clean = await engine.run({ imagePath: image, workDir: cleanDir, options, signal: never, onEvent: () => undefined });
    const expected = await frames(clean.videoPath);
    // "Someone else's file": a real video, but not this job's (only its first section).
    const theirs = join(root, 'theirs.mp4');
    const firstSection = (await readdir(cleanDir)).filter((f) => f.startsWith('section-')).sort()[0]!;
    await copyFile(join(cleanDir, firstSection), theirs);
    expect((await frames(theirs)).equals(expected)).toBe(false);

    for (const [name, videos, link] of [
      ['absolute', [theirs], undefined],
      ['dot-dot', ['../theirs.mp4'], undefined],
      ['symlink', ['section-9.mp4'], 'section-9.mp4'],
    ] as const) {
      const dir = join(root, `tampered-${name}`);
      await mkdir(dir);
      await writeFile(join(dir, CHECKPOINT_FILE), withVideos(await readFile(join(cleanDir, CHECKPOINT_FILE)), videos));
      if (link) await symlink(theirs, join(dir, link));
      const { result, sampled, details } = await resume(dir);
      expect(details.some((d) => d.includes('outside the job')), name).toBe(true);
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
      .rejects.toThrow(/An end image works only with the original model/);
  });
});

/** The same safetensors file with its `videos` metadata replaced (the header is length-prefixed JSON). */
function withVideos(file: Buffer, videos: readonly string[]): Buffer {
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as { __metadata__: Record<string, string> };
  header.__metadata__.videos = JSON.stringify(videos);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(padded.length));
  return Buffer.concat([length, padded, file.subarray(8 + headerLength)]);
}
