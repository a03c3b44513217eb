// Downloads a chat attachment with a hard size cap: refused up front when the server announces a
// larger Content-Length, and cut off while streaming when it lies or announces nothing.
// Messages never contain the URL: Telegram file URLs embed the bot token.
// A timeout covers the whole download (headers and body): a server that stalls mid-body would
// otherwise hold the request, and the user's job, forever.

export type DownloadErrorCode = 'too_large' | 'http' | 'network' | 'aborted' | 'timeout';

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Gives up after this long (headers and body together); no limit when omitted. */
  timeoutMs?: number;
}

export async function downloadLimited(url: string, maxBytes: number, opts: DownloadOptions = {}): Promise<Buffer> {
  const tooLarge = (): DownloadError =>
    new DownloadError('too_large', `The file is larger than the ${formatSize(maxBytes)} limit. Please send a smaller one.`);
  const timeout = opts.timeoutMs !== undefined ? AbortSignal.timeout(opts.timeoutMs) : undefined;
  const signal = timeout && opts.signal ? AbortSignal.any([opts.signal, timeout]) : (timeout ?? opts.signal);
  const fail = (err: unknown): DownloadError => (timeout?.aborted ? timedOut(opts.timeoutMs!) : failure(err, opts.signal));

  let response: Response;
  try {
    response = await fetch(url, { signal, headers: opts.headers, redirect: 'follow' });
  } catch (err) {
    throw fail(err);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new DownloadError('http', httpFailureSentence(response.status), response.status);
  }
  const announced = Number(response.headers.get('content-length'));
  if (Number.isFinite(announced) && announced > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  try {
    return await collectCapped(response.body, maxBytes, tooLarge);
  } catch (err) {
    if (err instanceof DownloadError) throw err;
    throw fail(err);
  }
}

/**
 * Reads a stream to the end into one Buffer, or throws `tooLarge()` as soon as more than `maxBytes`
 * arrived (leaving the loop cancels the stream, so the rest is never read). Downloads and a local
 * Bot API server's files share it.
 */
export async function collectCapped(source: AsyncIterable<Uint8Array>, maxBytes: number, tooLarge: () => DownloadError): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let received = 0;
  for await (const chunk of source) {
    received += chunk.byteLength;
    if (received > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, received);
}

/** What went wrong and what the user can do about it: the status code alone tells them nothing. */
export function httpFailureSentence(status: number): string {
  if (status === 429 || status >= 500) {
    return `The chat's file server could not hand over the file right now (HTTP ${status}). Please send the image again in a minute.`;
  }
  if (status === 401 || status === 403 || status === 404 || status === 410) {
    return `The file is no longer available (HTTP ${status}): its link may have expired or the message was deleted. Please send the image again.`;
  }
  return `The file could not be downloaded (HTTP ${status}). Please send the image again, or send it as a file instead of a link.`;
}

export function timedOut(ms: number): DownloadError {
  return new DownloadError('timeout', `The download took longer than ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`} and was stopped. Please send the image again.`);
}

function failure(err: unknown, signal: AbortSignal | undefined): DownloadError {
  if (signal?.aborted || (err instanceof Error && err.name === 'AbortError')) {
    return new DownloadError('aborted', 'The download was cancelled.');
  }
  return new DownloadError('network', 'The file could not be downloaded (network error). Please try again.');
}

function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}
