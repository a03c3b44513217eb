// Resume checkpoint, written after every finished section into the job's workDir: a safetensors
// file whose size does not grow with the video. It holds the conditioning (so no encoder runs
// again; the LLaMA vectors without their zero padding), the latent history cut to what the next
// sections read, and in its metadata the section count, the PRNG state, the options hash and the list
// of finished video segments with their sha256. The decoded frames themselves are never in it: they
// are in the segments, and the few float frames the next section blends are decoded again from the
// history on resume. At the 640 bucket it is ≈ 12 MB with the official widths.
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { SafetensorsStore, writeSafetensors, type TensorToWrite } from '../safetensors.ts';
import type { JobOptions } from '../../options/job-options.ts';
import type { Tensor } from '../functions/index.ts';
import { isPlainSegmentName, sha256File, type VideoSegment } from '../video/segments.ts';
import type { Conditioning } from './conditioning.ts';
import type { PrngState } from './prng.ts';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
// /3: segments instead of pixel frames; the history is cut to its read window.
const FORMAT = 'recurvid-framepack-checkpoint/3';

/** The conditioning a checkpoint carries (the end latent is already in the history). */
export type SavedConditioning = Omit<Conditioning, 'endLatent'>;

export interface CheckpointData {
  optionsHash: string;
  /** Sections finished (generation order). */
  sectionsDone: number;
  prng: PrngState;
  totalGeneratedLatentFrames: number;
  /** Finished video segments in generation order (names relative to the work directory). */
  segments: VideoSegment[];
  /** Video length when the chat was last shown the whole video (the progress-video policy's state). */
  lastWholeFrames: number;
  cond: SavedConditioning;
  /** The latent history, cut to what later sections read. */
  history: Tensor;
}

/** Everything that changes the output (options, model, cache mode, start and end image); previews do not. */
export async function jobHash(imagePath: string, options: JobOptions, modelIdentity: string, resolution: number, endImagePath?: string): Promise<string> {
  const { previews: _previews, ...rest } = options;
  const h = createHash('sha256');
  h.update(await readFile(imagePath));
  if (endImagePath) {
    h.update('\0end image\0');
    h.update(await readFile(endImagePath));
  }
  // Sorted keys: the hash names the option values, not the order in which some version wrote them.
  const identity: Record<string, unknown> = { ...rest, modelIdentity, resolution, format: FORMAT };
  h.update(JSON.stringify(Object.fromEntries(Object.keys(identity).sort().map((k) => [k, identity[k]]))));
  return h.digest('hex');
}

function f32(t: Tensor): TensorToWrite {
  return { dtype: 'F32', shape: t.dims, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
}

/** Tokens of a [1, L, C] vector the mask marks: every row past them is zero padding (cropOrPadYieldMask). */
function realRows(vec: Tensor, mask: Uint8Array): number {
  let n = 0;
  while (n < mask.length && mask[n]) n++;
  const width = vec.dims[2]!;
  for (let i = n * width; i < vec.data.length; i++) if (vec.data[i] !== 0) return vec.dims[1]!; // not padding: keep all
  return n;
}

function firstRows(vec: Tensor, rows: number): Tensor {
  const width = vec.dims[2]!;
  return { data: vec.data.subarray(0, rows * width), dims: [1, rows, width] };
}

function padRows(vec: Tensor, rows: number): Tensor {
  const width = vec.dims[2]!;
  const data = new Float32Array(rows * width);
  data.set(vec.data);
  return { data, dims: [1, rows, width] };
}

export async function saveCheckpoint(workDir: string, cp: CheckpointData): Promise<void> {
  const { cond } = cp;
  const tensors: Record<string, TensorToWrite> = {
    llamaVec: f32(firstRows(cond.llamaVec, realRows(cond.llamaVec, cond.llamaMask))),
    llamaVecN: f32(firstRows(cond.llamaVecN, realRows(cond.llamaVecN, cond.llamaMaskN))),
    clipPooled: f32(cond.clipPooled),
    clipPooledN: f32(cond.clipPooledN),
    imageEmbeddings: f32(cond.imageEmbeddings),
    startLatent: f32(cond.startLatent),
    history: f32(cp.history),
    llamaMask: { dtype: 'U8', shape: [cond.llamaMask.length], data: cond.llamaMask },
    llamaMaskN: { dtype: 'U8', shape: [cond.llamaMaskN.length], data: cond.llamaMaskN },
  };
  const meta = {
    format: FORMAT, optionsHash: cp.optionsHash, sectionsDone: String(cp.sectionsDone), prng: JSON.stringify(cp.prng),
    totalGeneratedLatentFrames: String(cp.totalGeneratedLatentFrames), lastWholeFrames: String(cp.lastWholeFrames),
    segments: JSON.stringify(cp.segments),
  };
  const path = join(workDir, CHECKPOINT_FILE);
  const tmp = `${path}.partial`;
  try {
    await writeSafetensors(tmp, tensors, meta);
    await rename(tmp, path); // atomic: a crash mid-write keeps the previous checkpoint
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * True when `path`, with symlinks followed, lies inside `dir`. A checkpoint names the segments the
 * final video is joined from and then posted to chat: whoever can write the checkpoint (Redis in
 * scale-out mode, DATA_DIR) must not be able to make the bot post a file of theirs.
 */
function isInsideDir(dir: string, path: string): boolean {
  const rel = relative(realpathSync(dir), realpathSync(path));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** A checkpoint that cannot be used: the reason is shown to the user, and the job starts over. */
class UnusableCheckpoint extends Error {}

/**
 * The checkpoint if one exists for exactly this job (same hash) and everything it names is here and
 * intact; otherwise undefined, with `onRejected` saying why when a checkpoint was there but unusable
 * (torn, foreign, a segment missing or changed): the job then starts again from its first section.
 */
export async function loadCheckpoint(workDir: string, optionsHash: string, onRejected?: (reason: string) => void): Promise<CheckpointData | undefined> {
  const path = join(workDir, CHECKPOINT_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return await readCheckpoint(workDir, path, optionsHash);
  } catch (err) {
    // A torn or foreign file (a disk that filled up, a copy cut short) must not fail every resume.
    const reason = err instanceof UnusableCheckpoint ? err.message : `it could not be read: ${err instanceof Error ? err.message : String(err)}`;
    onRejected?.(reason);
    return undefined;
  }
}

const TENSOR_RANK: Record<string, number> = {
  llamaVec: 3, llamaVecN: 3, clipPooled: 2, clipPooledN: 2, imageEmbeddings: 3, startLatent: 5, history: 5,
};

async function readCheckpoint(workDir: string, path: string, optionsHash: string): Promise<CheckpointData | undefined> {
  const store = await SafetensorsStore.open(path);
  try {
    const m = store.metadata;
    if (m.format !== FORMAT || m.optionsHash !== optionsHash) return undefined;
    const t: Record<string, Tensor> = {};
    for (const [key, rank] of Object.entries(TENSOR_RANK)) {
      if (!store.has(key)) throw new UnusableCheckpoint(`it lacks ${key}`);
      const info = store.info(key);
      if (info.dtype !== 'F32' || info.shape.length !== rank) throw new UnusableCheckpoint(`its ${key} is not a rank-${rank} float32 tensor`);
      t[key] = { data: await store.readFloat32(key), dims: info.shape };
    }
    const masks: Record<string, Uint8Array> = {};
    for (const key of ['llamaMask', 'llamaMaskN']) {
      if (!store.has(key) || store.info(key).dtype !== 'U8') throw new UnusableCheckpoint(`it lacks ${key}`);
      masks[key] = new Uint8Array(await store.readRaw(key));
    }
    const start = t.startLatent!;
    const history = t.history!;
    const [, c, , h, w] = start.dims;
    if (history.dims[0] !== 1 || history.dims[1] !== c || history.dims[3] !== h || history.dims[4] !== w) {
      throw new UnusableCheckpoint(`its history [${history.dims.join(', ')}] does not match its start latent [${start.dims.join(', ')}]`);
    }
    const sectionsDone = Number(m.sectionsDone);
    if (!Number.isInteger(sectionsDone) || sectionsDone < 1 || m.prng === undefined) throw new UnusableCheckpoint('its section count or noise state is missing');
    const segments = await checkSegments(workDir, m.segments);
    const tokens = masks.llamaMask!.length;
    return {
      optionsHash, sectionsDone, prng: JSON.parse(m.prng) as PrngState,
      totalGeneratedLatentFrames: Number(m.totalGeneratedLatentFrames), lastWholeFrames: Number(m.lastWholeFrames ?? 0) || 0,
      segments, history,
      cond: {
        llamaVec: padRows(t.llamaVec!, tokens), llamaMask: masks.llamaMask!, clipPooled: t.clipPooled!,
        llamaVecN: padRows(t.llamaVecN!, masks.llamaMaskN!.length), llamaMaskN: masks.llamaMaskN!, clipPooledN: t.clipPooledN!,
        imageEmbeddings: t.imageEmbeddings!, startLatent: start,
      },
    };
  } finally {
    await store.close();
  }
}

/** The segment list, each a plain name in the work directory whose file is there with its hash. */
async function checkSegments(workDir: string, raw: string | undefined): Promise<VideoSegment[]> {
  let list: unknown;
  try {
    list = JSON.parse(raw ?? '[]');
  } catch {
    throw new UnusableCheckpoint('its segment list is not valid JSON');
  }
  if (!Array.isArray(list)) throw new UnusableCheckpoint('its segment list is not a list');
  const segments: VideoSegment[] = [];
  for (const item of list as Array<Partial<VideoSegment>>) {
    const { file, frames, sha256, bytes } = item ?? {};
    if (typeof file !== 'string' || !isPlainSegmentName(file) || typeof sha256 !== 'string' || !Number.isInteger(frames) || !Number.isInteger(bytes)) {
      throw new UnusableCheckpoint('it names a video segment outside the job\'s work directory or without its hash');
    }
    const path = join(workDir, file);
    if (!existsSync(path)) throw new UnusableCheckpoint(`its video segment ${file} is missing`);
    if (!isInsideDir(workDir, path)) throw new UnusableCheckpoint('it names a video segment outside the job\'s work directory');
    if ((await sha256File(path)) !== sha256) throw new UnusableCheckpoint(`its video segment ${file} has changed`);
    segments.push({ file, frames: frames!, sha256, bytes: bytes! });
  }
  return segments;
}
