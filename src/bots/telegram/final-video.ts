// Sends a finished job's video so that the chat never goes silent: fitted to the upload limit,
// retried on passing failures, re-encoded smaller when Telegram says the file is too big, sent as a
// document when Telegram will not take it as a video, and otherwise an outcome with a sentence
// that tells the user what happened and what to do. The video file is never deleted here.
import { TelegramError, type Telegram } from 'telegraf';
import type { InlineKeyboardMarkup } from 'telegraf/types';
import type { Logger } from '../../log.ts';
import { fitVideoToSize, VideoTooLargeError } from '../common/fit-video.ts';
import { DEFAULT_RETRY_DELAYS_MS, withRetries } from '../common/retry.ts';
import { type ChatCaller, describeApiError, isTransient, multipartReplyParameters, uploadFailureKind } from './api.ts';
import { formatMB } from './limits.ts';
import { PRIORITY } from '../common/chat-budget.ts';

export interface FinalVideoDeps {
  telegram: Telegram;
  caller: ChatCaller;
  log: Logger;
  maxUploadBytes: number;
  /** Pauses between attempts of one upload (network errors, 5xx, timeouts). */
  retryDelaysMs?: readonly number[];
  /** An upload attempt that takes longer is abandoned (and retried): a hung connection must not hang the job's delivery. */
  uploadTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface FinalVideo {
  jobId: string;
  chatId: number;
  videoPath: string;
  workDir: string;
  fileName: string;
  /** The caption; `note` is a sentence about how the file was prepared, if any. */
  caption: (note: string | undefined) => string;
  markup: InlineKeyboardMarkup;
  replyTo: number;
}

export type FinalOutcome =
  | { delivered: true; how: 'video' | 'smaller' | 'document'; note?: string }
  | { delivered: false; note: string };

type CallApiOptions = NonNullable<Parameters<Telegram['callApi']>[2]>;

export const DEFAULT_UPLOAD_TIMEOUT_MS = 5 * 60_000;

/** Telegram's own limit is not always ours: after a "too big" answer, aim at this share of what was refused. */
const SHRINK_FACTOR = 0.5;

export async function sendFinalVideo(deps: FinalVideoDeps, v: FinalVideo): Promise<FinalOutcome> {
  const { log } = deps;
  let fitted: Awaited<ReturnType<typeof fitVideoToSize>>;
  try {
    fitted = await fitVideoToSize(v.videoPath, deps.maxUploadBytes, { workDir: v.workDir });
  } catch (err) {
    log.error({ jobId: v.jobId, err: describeApiError(err) }, 'telegram: the final video could not be fitted to the upload limit');
    const why = err instanceof VideoTooLargeError ? err.message : 'it could not be re-encoded to fit the upload limit.';
    return { delivered: false, note: `I could not send the video: ${lowerFirst(why)} It is kept on the server; press Re-roll to make a shorter one.` };
  }
  const shrunkNote = fitted.reencoded ? `Re-encoded to ${formatMB(fitted.bytes)} to fit Telegram's upload limit.` : undefined;

  let lastError: unknown;
  try {
    await upload(deps, v, 'sendVideo', fitted.path, v.caption(shrunkNote));
    return { delivered: true, how: 'video', ...(shrunkNote ? { note: shrunkNote } : {}) };
  } catch (err) {
    lastError = err;
    log.warn({ jobId: v.jobId, method: 'sendVideo', err: describeApiError(err) }, 'telegram: sendVideo of the final video failed');
  }

  if (uploadFailureKind(lastError) === 'too_big') {
    try {
      const smaller = await fitVideoToSize(v.videoPath, Math.floor(Math.min(deps.maxUploadBytes, fitted.bytes) * SHRINK_FACTOR), { workDir: v.workDir });
      const note = 'Telegram refused the upload (file too big). I sent a smaller version.';
      await upload(deps, v, 'sendVideo', smaller.path, v.caption(`Re-encoded to ${formatMB(smaller.bytes)}.`));
      return { delivered: true, how: 'smaller', note };
    } catch (err) {
      // A re-encode that cannot get small enough is not Telegram's answer: keep the upload error.
      if (!(err instanceof VideoTooLargeError)) lastError = err;
      log.warn({ jobId: v.jobId, method: 'sendVideo', err: describeApiError(err) }, 'telegram: a smaller version could not be made or sent');
    }
  }

  // Telegram may refuse a file as a video (bad dimensions, codec) yet take it as a document.
  const refusedAsVideo = describeApiError(lastError);
  try {
    await upload(deps, v, 'sendDocument', fitted.path, v.caption(shrunkNote));
    return { delivered: true, how: 'document', note: `Telegram did not take it as a video (${refusedAsVideo}), so I sent it as a file.` };
  } catch (err) {
    lastError = err;
    log.error({ jobId: v.jobId, method: 'sendDocument', err: describeApiError(err) }, 'telegram: sendDocument of the final video failed; nothing was delivered');
  }
  const answer = lastError instanceof TelegramError ? `Telegram refused the upload (${describeApiError(lastError)})` : `Telegram could not be reached (${describeApiError(lastError)})`;
  return { delivered: false, note: `I could not send the video: ${answer}. It is kept on the server; press Re-roll to try again.` };
}

async function upload(deps: FinalVideoDeps, v: FinalVideo, method: 'sendVideo' | 'sendDocument', path: string, caption: string): Promise<void> {
  const { telegram, caller, log } = deps;
  const file = { source: path, filename: v.fileName };
  const common = { chat_id: v.chatId, caption, reply_markup: v.markup, reply_parameters: multipartReplyParameters(v.replyTo) };
  const timeoutMs = deps.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS;
  // callApi rather than sendVideo/sendDocument: only callApi takes an AbortSignal (the timeout).
  await withRetries(
    () =>
      caller.call(v.chatId, method, (): Promise<unknown> => {
        // telegraf types its signal as the abort-controller polyfill's; node-fetch accepts Node's own.
        const timeout = { signal: AbortSignal.timeout(timeoutMs) } as unknown as CallApiOptions;
        return method === 'sendVideo'
          ? telegram.callApi('sendVideo', { ...common, video: file, supports_streaming: true }, timeout)
          : telegram.callApi('sendDocument', { ...common, document: file }, timeout);
      }, PRIORITY.final),
    {
      delaysMs: deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
      retryable: isTransient,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      onRetry: (err, attempt) => log.warn({ jobId: v.jobId, method, attempt, err: describeApiError(err) }, `telegram: ${method} failed, retrying`),
    },
  );
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
