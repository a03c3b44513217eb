// A converted model set lives in models/<name>/ with one manifest.json describing every component.
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Precision, StorageDtype } from '../onnx/weights.ts';
import type { QuantSpec } from '../onnx/quant.ts';
import type { AttentionKernel } from '../onnx/graph.ts';

export type ComponentName =
  | 'transformer'
  /** FramePack-F1's transformer (same architecture, forward sampling); shares every other component. */
  | 'transformer_f1'
  | 'vae'
  | 'text_encoder'
  | 'text_encoder_2'
  | 'tokenizer'
  | 'tokenizer_2'
  | 'image_encoder'
  | 'feature_extractor';

/** Where each component comes from, as users download them from the Hugging Face Hub. */
export const OFFICIAL_SOURCES = {
  hunyuan: { repo: 'hunyuanvideo-community/HunyuanVideo', folders: ['text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'vae'] },
  redux: { repo: 'lllyasviel/flux_redux_bfl', folders: ['image_encoder', 'feature_extractor'] },
  framepack: { repo: 'lllyasviel/FramePackI2V_HY', folders: ['.'] },
  /** Optional: pulled / converted only when asked for (`--f1`, `--framepack-f1`). */
  framepack_f1: { repo: 'lllyasviel/FramePack_F1_I2V_HY_20250503', folders: ['.'] },
} as const;
export type SourceRepo = keyof typeof OFFICIAL_SOURCES;

export interface SourceFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** sha256 of a file, streamed (checkpoint shards are many GB). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Provenance of one source file for a manifest: recorded as `recordedAs`, with its size and sha256. */
export async function describeSourceFile(path: string, recordedAs: string): Promise<SourceFile> {
  return { path: recordedAs, bytes: (await stat(path)).size, sha256: await sha256File(path) };
}

export interface ComponentManifest {
  component: ComponentName;
  /** The official config.json (or preprocessor/tokenizer config) as read. */
  config: unknown;
  dtype: StorageDtype | 'none';
  /** Compute type of the component's graphs (absent: fp32, as sets converted before it existed). */
  precision?: Precision;
  /** Weight-only quantization of its Linears (absent or null: none). */
  quant?: QuantSpec | null;
  /** Attention kernel the graphs were built with (absent: fused). */
  attention?: AttentionKernel;
  /** Role → path relative to the model set folder, e.g. { embed: 'transformer/embed.onnx' }. */
  files: Record<string, string>;
  source: SourceFile[];
  /** Component-specific facts the runtime needs (e.g. crop_start, hidden-state index, block count). */
  extra?: Record<string, unknown>;
}

export interface ModelSetManifest {
  name: string;
  createdAt: string;
  /** Seeded random weights: the output is noise, by design. */
  tiny: boolean;
  components: Partial<Record<ComponentName, ComponentManifest>>;
}

export class ModelSetError extends Error {
  override name = 'ModelSetError';
}

export async function readManifest(dir: string): Promise<ModelSetManifest> {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) {
    throw new ModelSetError(
      `No model set at ${dir} (manifest.json missing). Build the tiny set with \`npx recurvid models tiny\` or convert real weights with \`npx recurvid convert\`.`,
    );
  }
  return JSON.parse(await readFile(path, 'utf8')) as ModelSetManifest;
}

/** Merges components into the manifest (creating it when absent). */
export async function updateManifest(
  dir: string,
  patch: { name?: string; tiny?: boolean; components: Partial<Record<ComponentName, ComponentManifest>> },
): Promise<ModelSetManifest> {
  await mkdir(dir, { recursive: true });
  const current: ModelSetManifest = existsSync(join(dir, 'manifest.json'))
    ? await readManifest(dir)
    : { name: patch.name ?? dir.split('/').pop() ?? 'models', createdAt: new Date().toISOString(), tiny: false, components: {} };
  const next: ModelSetManifest = {
    ...current,
    name: patch.name ?? current.name,
    tiny: patch.tiny ?? current.tiny,
    components: { ...current.components, ...patch.components },
  };
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(next, null, 2)}\n`);
  return next;
}
