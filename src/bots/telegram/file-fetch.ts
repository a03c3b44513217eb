// Fetches a chat file through getFile. The cloud Bot API hands out a relative path that is
// downloaded over HTTP; a self-hosted Bot API server (--local) hands out an absolute path on its
// own disk instead. telegraf turns that into file://<api host>/path, which Node's fileURLToPath
// refuses (a host is not allowed), so we read file_path ourselves and never build a file URL.
// Both ways share the byte cap and the timeout: local mode lifts Telegram's limit to 2000 MB, and
// reading such a file whole into memory would be the cap's job to prevent.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, posix } from 'node:path';
import type { Telegram } from 'telegraf';
import { collectCapped, downloadLimited, DownloadError, timedOut } from '../common/download.ts';
import { formatMB } from './limits.ts';
import type { ImageRef } from './media.ts';

/** TELEGRAM_LOCAL_FILES_MAP (parsed in config.ts): where the Bot API server's --dir appears on our filesystem. */
export interface LocalFilesMap {
  /** The folder as the Bot API server sees it (its --dir, e.g. /var/lib/telegram-bot-api). */
  server: string;
  /** The same folder as this process sees it (e.g. a shared volume mounted at /srv/telegram-files). */
  local: string;
}

export interface FileFetchDeps {
  telegram: Telegram;
  maxDownloadBytes: number;
  /** Whole-download limit (HTTP and local reads alike); none when omitted. */
  downloadTimeoutMs?: number;
  localFiles?: LocalFilesMap;
}

/**
 * The path to read for a local server's absolute file_path. Without a map the server shares our
 * filesystem and the path is used as-is; with one, the path must lie under `server` and is moved
 * under `local` (anything else is refused rather than read from wherever it points).
 */
export function localFilePath(filePath: string, map: LocalFilesMap | undefined): string {
  const normal = posix.normalize(filePath);
  if (!map) return normal;
  const server = posix.normalize(map.server).replace(/\/+$/, '');
  if (!normal.startsWith(`${server}/`)) {
    throw new DownloadError('network', 'The Bot API server reported a file outside its files folder (check TELEGRAM_LOCAL_FILES_MAP).');
  }
  return posix.join(map.local, normal.slice(server.length + 1));
}

export async function fetchTelegramFile(deps: FileFetchDeps, ref: ImageRef): Promise<Buffer> {
  const file = await deps.telegram.getFile(ref.fileId);
  if (file.file_path !== undefined && isAbsolute(file.file_path)) {
    return await readLocalLimited(localFilePath(file.file_path, deps.localFiles), deps.maxDownloadBytes, deps.downloadTimeoutMs);
  }
  const link = await deps.telegram.getFileLink(file);
  return await downloadLimited(link.href, deps.maxDownloadBytes, { timeoutMs: deps.downloadTimeoutMs });
}

/** Streams a file with the download cap: refused by its size first, cut off if it grows past it. */
export async function readLocalLimited(path: string, maxBytes: number, timeoutMs?: number): Promise<Buffer> {
  const tooLarge = () => new DownloadError('too_large', `The file is larger than the ${formatMB(maxBytes)} limit.`);
  const signal = timeoutMs !== undefined ? AbortSignal.timeout(timeoutMs) : undefined;
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    throw new DownloadError('network', 'The file the Bot API server reported cannot be read here (check TELEGRAM_LOCAL_FILES_MAP).');
  }
  if (size > maxBytes) throw tooLarge();
  try {
    return await collectCapped(createReadStream(path, { signal, end: maxBytes }), maxBytes, tooLarge);
  } catch (err) {
    if (err instanceof DownloadError) throw err;
    if (signal?.aborted) throw timedOut(timeoutMs!);
    throw new DownloadError('network', 'The file the Bot API server reported cannot be read here (check TELEGRAM_LOCAL_FILES_MAP).');
  }
}
