// Resume checkpoint, written after every finished section into the job's workDir: a safetensors
// file holding history latents, the float head / rgb tail of the decoded video, the conditioning
// (so no encoder runs again) and, in its metadata, the section index, PRNG state and options hash.
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { SafetensorsStore, writeSafetensors, type TensorToWrite } from '../safetensors.ts';
import type { AnimateOptions } from '../types.ts';
import type { Tensor } from '../functions/index.ts';
import type { PrngState } from './prng.ts';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
// /2: the pixel history is stored as its float and byte parts (either end of the video may grow).
const FORMAT = 'recurvid-framepack-checkpoint/2';

export interface CheckpointData {
  optionsHash: string;
  /** Sections finished (generation order). */
  sectionsDone: number;
  prng: PrngState;
  totalGeneratedLatentFrames: number;
  /**
   * Paths of the section videos written so far. Saved as names relative to the work dir, so a
   * checkpoint moved to another directory or machine (scale-out resume) still finds them there.
   */
  videos: string[];
  tensors: Record<string, Tensor>;
  bytes: Record<string, { data: Uint8Array; dims: number[] }>;
}

/** Everything that changes the output (options, model, cache mode, start and end image); previews do not. */
export async function jobHash(imagePath: string, options: AnimateOptions, modelIdentity: string, resolution: number, endImagePath?: string): Promise<string> {
  const { previews: _previews, ...rest } = options;
  const h = createHash('sha256');
  h.update(await readFile(imagePath));
  if (endImagePath) {
    h.update('\0end image\0');
    h.update(await readFile(endImagePath));
  }
  h.update(JSON.stringify({ ...rest, modelIdentity, resolution, format: FORMAT }));
  return h.digest('hex');
}

function f32(t: Tensor): TensorToWrite {
  return { dtype: 'F32', shape: t.dims, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
}

export async function saveCheckpoint(workDir: string, cp: CheckpointData): Promise<void> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [k, t] of Object.entries(cp.tensors)) tensors[`f.${k}`] = f32(t);
  for (const [k, b] of Object.entries(cp.bytes)) tensors[`u.${k}`] = { dtype: 'U8', shape: [b.data.length], data: b.data };
  const meta = {
    format: FORMAT, optionsHash: cp.optionsHash, sectionsDone: String(cp.sectionsDone), prng: JSON.stringify(cp.prng),
    totalGeneratedLatentFrames: String(cp.totalGeneratedLatentFrames),
    videos: JSON.stringify(cp.videos.map((v) => relative(workDir, v))),
    byteDims: JSON.stringify(Object.fromEntries(Object.entries(cp.bytes).map(([k, b]) => [k, b.dims]))),
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
 * True when `path`, with symlinks followed, lies inside `dir`. A checkpoint names the section videos
 * the final video is copied from and then posted to chat: whoever can write the checkpoint (Redis in
 * scale-out mode, DATA_DIR) must not be able to make the bot post a file of theirs.
 */
function isInsideDir(dir: string, path: string): boolean {
  const rel = relative(realpathSync(dir), realpathSync(path));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * The checkpoint if one exists for exactly this job (same hash); otherwise undefined. A checkpoint
 * naming a video outside its work directory is refused as a whole (`onRejected` says why): the job
 * starts again from its first section.
 */
export async function loadCheckpoint(workDir: string, optionsHash: string, onRejected?: (reason: string) => void): Promise<CheckpointData | undefined> {
  const path = join(workDir, CHECKPOINT_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return await readCheckpoint(workDir, path, optionsHash, onRejected);
  } catch (err) {
    // A torn or foreign file (a disk that filled up, a copy cut short) must not fail every resume:
    // the job starts over from its first section instead.
    onRejected?.(`it could not be read: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** Tensors and byte arrays a resume needs; a checkpoint without one of them is not usable. */
const REQUIRED_TENSORS = ['llamaVec', 'clipPooled', 'llamaVecN', 'clipPooledN', 'imageEmbeddings', 'startLatent', 'history', 'pixelFloat'];
const REQUIRED_BYTES = ['llamaMask', 'llamaMaskN', 'pixelBytes'];

async function readCheckpoint(workDir: string, path: string, optionsHash: string, onRejected?: (reason: string) => void): Promise<CheckpointData | undefined> {
  const store = await SafetensorsStore.open(path);
  try {
    const m = store.metadata;
    if (m.format !== FORMAT || m.optionsHash !== optionsHash) return undefined;
    const byteDims = JSON.parse(m.byteDims ?? '{}') as Record<string, number[]>;
    const tensors: Record<string, Tensor> = {};
    const bytes: CheckpointData['bytes'] = {};
    for (const key of store.keys()) {
      if (key.startsWith('f.')) tensors[key.slice(2)] = { data: await store.readFloat32(key), dims: store.info(key).shape };
      else if (key.startsWith('u.')) bytes[key.slice(2)] = { data: new Uint8Array(await store.readRaw(key)), dims: byteDims[key.slice(2)] ?? [] };
    }
    // Relative to this work dir (older checkpoints hold absolute paths, which resolve to themselves).
    // Paths that no longer exist are dropped (a checkpoint moved to another machine without its
    // videos resumes from its pixel history); one that exists outside the work dir is not ours.
    const videos = (JSON.parse(m.videos ?? '[]') as unknown[]).map((v) => resolve(workDir, String(v))).filter((v) => existsSync(v));
    const foreign = videos.find((v) => !isInsideDir(workDir, v));
    if (foreign !== undefined) {
      onRejected?.('it names a video outside the job\'s work directory');
      return undefined;
    }
    const missing = [...REQUIRED_TENSORS.filter((k) => !tensors[k]), ...REQUIRED_BYTES.filter((k) => !bytes[k])];
    if (missing.length) throw new Error(`it lacks ${missing.join(', ')}`);
    const sectionsDone = Number(m.sectionsDone);
    if (!Number.isInteger(sectionsDone) || sectionsDone < 1 || m.prng === undefined) throw new Error('its section count or noise state is missing');
    return {
      optionsHash, sectionsDone, prng: JSON.parse(m.prng) as PrngState,
      totalGeneratedLatentFrames: Number(m.totalGeneratedLatentFrames), videos, tensors, bytes,
    };
  } finally {
    await store.close();
  }
}
