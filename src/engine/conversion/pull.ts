// The download behind `recurvid models pull` (src/cli/commands/models-pull.ts): downloads exactly the official folders FramePack needs with
// @huggingface/hub (token from HF_TOKEN, hub from HF_ENDPOINT), resuming partial files with HTTP
// Range through the library's lazy blobs, then converts them into a model set.
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { SingleBar, Presets } from 'cli-progress';
import { downloadFile, listFiles } from '@huggingface/hub';
import type { Logger } from '../../log.ts';
import type { Precision, StorageDtype } from '../onnx/weights.ts';
import type { QuantSpec } from '../onnx/quant.ts';
import type { AttentionKernel } from '../onnx/graph.ts';
import { sha256File, OFFICIAL_SOURCES, ModelSetError, type SourceRepo } from '../modelset/manifest.ts';
import { convertModelSet, type ConvertModelSetOptions } from './convert.ts';

export interface PlannedFile {
  source: SourceRepo;
  repo: string;
  path: string;
  size: number;
  /** sha256 of LFS files (the hub's lfs.oid), checked after download. */
  sha256?: string;
}

export interface PullOptions {
  /** Model set folder to convert into. */
  out: string;
  storage: StorageDtype;
  precision?: Precision;
  quant?: QuantSpec;
  attention?: AttentionKernel;
  /** Where the official folders are downloaded (kept for resuming and re-converting). */
  downloadDir: string;
  hubUrl?: string;
  accessToken?: string;
  fetch?: typeof fetch;
  log?: Logger;
  /** Attempts per file; each retry resumes from the bytes already on disk. */
  maxAttempts?: number;
  /** Also pull FramePack-F1's transformer (a second 13B checkpoint; everything else is shared). */
  f1?: boolean;
  /** Print a progress bar on stderr. */
  progress?: boolean;
  /** Replaceable for tests; defaults to convertModelSet. */
  convert?: (opts: ConvertModelSetOptions) => Promise<unknown>;
  /** Prints one line (total size, where files go); defaults to stderr. */
  say?: (line: string) => void;
}

// Other weight formats that sit next to the safetensors in some folders: never needed.
const SKIP = /\.(bin|pt|pth|ckpt|msgpack|h5|onnx|gguf)$|(^|\/)\.gitattributes$|(^|\/)README\.md$|\.(png|jpg|jpeg|gif|mp4)$/i;

/** Lists the files to fetch: every needed folder of each official repository. */
export async function planDownloads(opts: Pick<PullOptions, 'hubUrl' | 'accessToken' | 'fetch' | 'f1'>): Promise<PlannedFile[]> {
  const plan: PlannedFile[] = [];
  for (const [source, { repo, folders }] of Object.entries(OFFICIAL_SOURCES) as Array<[SourceRepo, { repo: string; folders: readonly string[] }]>) {
    if (source === 'framepack_f1' && !opts.f1) continue;
    for (const folder of folders) {
      const root = folder === '.' ? undefined : folder;
      for await (const entry of listFiles({
        repo,
        recursive: true,
        ...(root ? { path: root } : {}),
        ...(opts.hubUrl ? { hubUrl: opts.hubUrl } : {}),
        ...(opts.accessToken ? { accessToken: opts.accessToken } : {}),
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
      })) {
        if (entry.type !== 'file' || SKIP.test(entry.path)) continue;
        // The repo root of FramePackI2V_HY: its config and (sharded) safetensors only.
        if (!root && (entry.path.includes('/') || !/\.(json|safetensors)$/.test(entry.path))) continue;
        plan.push({ source, repo, path: entry.path, size: entry.lfs?.size ?? entry.size, ...(entry.lfs ? { sha256: entry.lfs.oid } : {}) });
      }
    }
  }
  if (plan.length === 0) throw new ModelSetError('The hub listed no files for the official repositories.');
  return plan;
}

async function sizeOf(path: string): Promise<number> {
  return existsSync(path) ? (await stat(path)).size : -1;
}

/** Downloads one file to `dest`, appending to `dest.part` from where a previous attempt stopped. */
async function downloadOne(file: PlannedFile, dest: string, opts: PullOptions, onBytes: (n: number) => void): Promise<void> {
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  const attempts = opts.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    let have = Math.max(0, await sizeOf(part));
    if (have > file.size) have = 0; // a stale partial of another version: start over
    try {
      if (have < file.size) {
        const blob = await downloadFile({
          repo: file.repo,
          path: file.path,
          ...(opts.hubUrl ? { hubUrl: opts.hubUrl } : {}),
          ...(opts.accessToken ? { accessToken: opts.accessToken } : {}),
          ...(opts.fetch ? { fetch: opts.fetch } : {}),
        });
        if (!blob) throw new ModelSetError(`${file.repo}: ${file.path} is not on the hub.`);
        // slice() on the library's blob issues a Range request for the missing tail.
        const body = Readable.fromWeb((have > 0 ? blob.slice(have) : blob).stream() as WebReadableStream<Uint8Array>);
        const count = new Transform({ transform(chunk: Buffer, _enc, cb) { onBytes(chunk.length); cb(null, chunk); } });
        await pipeline(body, count, createWriteStream(part, { flags: have > 0 ? 'a' : 'w' }));
      }
      const got = await sizeOf(part);
      if (got !== file.size) throw new Error(`${file.path}: got ${got} of ${file.size} bytes`);
      if (file.sha256 && (await sha256File(part)) !== file.sha256) {
        await rename(part, `${part}.corrupt`);
        throw new Error(`${file.path}: sha256 does not match the hub's`);
      }
      await rename(part, dest);
      return;
    } catch (err) {
      if (attempt >= attempts) throw new ModelSetError(`Download of ${file.repo}/${file.path} failed after ${attempt} attempt(s): ${(err as Error).message}. Run the command again to resume.`);
      opts.log?.warn({ file: file.path, attempt, err: (err as Error).message }, 'download interrupted, resuming');
    }
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** Plans, downloads (skipping complete files, resuming partial ones), then converts. */
export async function pullModelSet(opts: PullOptions): Promise<{ files: PlannedFile[]; downloadedBytes: number; sources: Record<SourceRepo, string> }> {
  const say = opts.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const files = await planDownloads(opts);
  const total = files.reduce((a, f) => a + f.size, 0);
  const sources = Object.fromEntries(
    Object.keys(OFFICIAL_SOURCES).filter((k) => k !== 'framepack_f1' || opts.f1).map((k) => [k, join(opts.downloadDir, k)]),
  ) as Record<SourceRepo, string>;
  let done = 0;
  for (const f of files) {
    const onDisk = await sizeOf(join(sources[f.source], f.path));
    done += onDisk === f.size ? f.size : Math.max(0, Math.min(f.size, await sizeOf(join(sources[f.source], `${f.path}.part`))));
  }
  say(`Downloading ${files.length} files, ${formatBytes(total)} in total (${formatBytes(total - done)} still to fetch), into ${opts.downloadDir}.`);
  const bar = opts.progress ? new SingleBar({ format: ' {bar} {percentage}% | {value_h} / {total_h} | {file}', hideCursor: true }, Presets.shades_classic) : undefined;
  bar?.start(total, done, { file: '', value_h: formatBytes(done), total_h: formatBytes(total) });
  let downloadedBytes = 0;
  try {
    for (const f of files) {
      const dest = join(sources[f.source], f.path);
      if ((await sizeOf(dest)) === f.size) continue;
      // Bytes already in a .part were counted above; the bar follows new bytes only.
      await downloadOne(f, dest, opts, (n) => {
        downloadedBytes += n;
        done += n;
        bar?.update(Math.min(done, total), { file: f.path, value_h: formatBytes(done) });
      });
    }
  } finally {
    bar?.stop();
  }
  const convert = opts.convert ?? convertModelSet;
  await convert({
    sources,
    out: opts.out,
    storage: opts.storage,
    ...(opts.precision ? { precision: opts.precision } : {}),
    ...(opts.quant ? { quant: opts.quant } : {}),
    ...(opts.attention ? { attention: opts.attention } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  return { files, downloadedBytes, sources };
}
