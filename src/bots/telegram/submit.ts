// One /animate request from chat to queue: parse the options, answer at once with a status
// message, fetch and check the image, settle the prompt, submit. Every refusal is a sentence in
// the chat and nothing is queued.
import type { Telegram } from 'telegraf';
import type { JobOptions } from '../../options/job-options.ts';
import type { Logger } from '../../log.ts';
import type { PromptHelper } from '../../prompting/types.ts';
import { resolvePrompt } from '../../prompting/resolve.ts';
import { QueueRefusal, type JobQueue } from '../../queue/types.ts';
import { checkImage, DEFAULT_IMAGE_LIMITS } from '../common/image.ts';
import { parseAnimateText } from '../common/options.ts';
import type { OptionCaps } from '../../options/fields.ts';
import { combinationErrors } from '../../options/rules.ts';
import { DownloadError } from '../common/download.ts';
import { type ChatCaller, describeApiError, NOT_MODIFIED } from './api.ts';
import { formatMB } from './limits.ts';
import { fetchTelegramFile, type LocalFilesMap } from './file-fetch.ts';
import type { ImageRef } from './media.ts';
import type { JobPresenter } from './presenter.ts';
import { writeReplyTarget, type ChatKind } from './reply-target.ts';
import { admissionRefusal } from '../common/admission.ts';

export interface AnimateRequest {
  chatId: number;
  chatType: ChatKind;
  /** The message to answer (the command, a suggestion, a finished video). */
  replyTo: number;
  user: { id: string; name?: string };
  /** The image: a Telegram file to fetch, or bytes we already have (re-roll). */
  image: { ref: ImageRef } | { bytes: Buffer; name: string };
  /** Optional end image (original model only): fetched and checked like the start image. */
  endImage?: { ref: ImageRef } | { bytes: Buffer; name: string };
  /** "[prompt] [options]" as typed. */
  text: string;
  /** Settings to start from (user defaults, or a finished job's options). */
  base: Partial<JobOptions>;
}

export interface SubmitDeps {
  telegram: Telegram;
  queue: JobQueue;
  caller: ChatCaller;
  presenter: JobPresenter;
  promptHelper?: PromptHelper;
  caps: OptionCaps;
  maxDownloadBytes: number;
  /** TELEGRAM_DOWNLOAD_TIMEOUT_MS; TELEGRAM_LOCAL_FILES_MAP (see file-fetch.ts). */
  downloadTimeoutMs?: number;
  localFiles?: LocalFilesMap;
  log: Logger;
}

export type SubmitOutcome = { queued: true; jobId: string } | { queued: false; reason: string };

export async function submitAnimation(deps: SubmitDeps, req: AnimateRequest): Promise<SubmitOutcome> {
  const { telegram, caller } = deps;
  const parsed = parseAnimateText(req.text, deps.caps, req.base);
  parsed.errors.push(...combinationErrors(parsed.options, { endImage: req.endImage !== undefined }));
  if (parsed.errors.length > 0) {
    const reason = `I could not start that:\n• ${parsed.errors.join('\n• ')}\nExample: /animate the waves roll in seconds=5 steps=25 teacache=off`;
    await reply(deps, req, reason);
    return { queued: false, reason };
  }

  // Answer first: the status message is what the user watches while we fetch and check.
  const status = await caller.call(req.chatId, 'sendMessage', () =>
    telegram.sendMessage(req.chatId, 'Got it: checking your image…', {
      reply_parameters: { message_id: req.replyTo, allow_sending_without_reply: true },
    }),
  );
  if (status === NOT_MODIFIED) return { queued: false, reason: 'no status message' };
  const statusId = status.message_id;
  const refuse = async (reason: string): Promise<SubmitOutcome> => {
    await caller
      .call(req.chatId, 'editMessageText', () => telegram.editMessageText(req.chatId, statusId, undefined, reason))
      .catch((err: unknown) => deps.log.warn({ err: describeApiError(err) }, 'could not report a refusal'));
    return { queued: false, reason };
  };

  // Limits first: a user at their limit (or a full queue) costs no download, decode or helper call.
  const admission = await admissionRefusal(deps.queue, 'telegram', req.user.id).catch((err: unknown) => {
    deps.log.error({ err: describeApiError(err) }, 'queue admission check failed');
    return 'Sorry, I could not queue that job (internal error). Please try again later.';
  });
  if (admission) return await refuse(admission);

  let bytes: Buffer;
  let name: string;
  try {
    if ('ref' in req.image) {
      bytes = await fetchTelegramFile(deps, req.image.ref);
      name = req.image.ref.fileName;
    } else {
      ({ bytes, name } = req.image);
    }
  } catch (err) {
    deps.log.info({ err: describeApiError(err) }, 'image download failed');
    return await refuse(downloadMessage(err, deps.maxDownloadBytes));
  }

  const check = await checkImage(bytes, { ...DEFAULT_IMAGE_LIMITS, maxBytes: deps.maxDownloadBytes });
  if (!check.ok) return await refuse(check.message);

  let end: { bytes: Buffer; name: string } | undefined;
  if (req.endImage) {
    let endBytes: Buffer;
    let endName: string;
    try {
      if ('ref' in req.endImage) {
        endBytes = await fetchTelegramFile(deps, req.endImage.ref);
        endName = req.endImage.ref.fileName;
      } else {
        ({ bytes: endBytes, name: endName } = req.endImage);
      }
    } catch (err) {
      deps.log.info({ err: describeApiError(err) }, 'end image download failed');
      return await refuse(`End image: ${downloadMessage(err, deps.maxDownloadBytes)}`);
    }
    // The same checks as the start image.
    const endCheck = await checkImage(endBytes, { ...DEFAULT_IMAGE_LIMITS, maxBytes: deps.maxDownloadBytes });
    if (!endCheck.ok) return await refuse(`End image: ${endCheck.message}`);
    end = { bytes: endBytes, name: safeName(endName, endCheck.format) };
  }

  // A typed prompt wins; a re-roll or a chosen suggestion brings its prompt in `base`.
  const prompt = await resolvePrompt(parsed.prompt || (req.base.prompt ?? ''), deps.promptHelper, bytes);
  const options: JobOptions = { ...parsed.options, prompt: prompt.prompt };

  try {
    const submitted = await deps.queue.submit({
      platform: 'telegram',
      userId: req.user.id,
      userName: req.user.name,
      reply: writeReplyTarget({ chatId: req.chatId, chatType: req.chatType, statusMessageId: statusId, requestMessageId: req.replyTo }),
      image: bytes,
      imageName: safeName(name, check.format),
      ...(end ? { endImage: end.bytes, endImageName: end.name } : {}),
      options,
      promptSource: prompt.source,
    });
    deps.presenter.submitted(submitted.job, submitted.position, submitted.etaMs);
    if (prompt.notice) await reply(deps, req, prompt.notice);
    return { queued: true, jobId: submitted.job.id };
  } catch (err) {
    if (err instanceof QueueRefusal) return await refuse(err.message);
    deps.log.error({ err: describeApiError(err) }, 'queue submit failed');
    return await refuse('Sorry, I could not queue that job (internal error). Please try again later.');
  }
}


async function reply(deps: SubmitDeps, req: AnimateRequest, text: string): Promise<void> {
  await deps.caller.call(req.chatId, 'sendMessage', () =>
    deps.telegram.sendMessage(req.chatId, text, { reply_parameters: { message_id: req.replyTo, allow_sending_without_reply: true } }),
  );
}



function downloadMessage(err: unknown, maxBytes: number): string {
  if (err instanceof DownloadError) return err.message;
  if (/file is too big/i.test(describeApiError(err))) {
    return `That file is too big for bots to download (the limit is ${formatMB(maxBytes)}). Please send a smaller image.`;
  }
  return 'I could not download your image from Telegram. Please send it again.';
}

function safeName(name: string, format: string): string {
  const base = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60) || 'image';
  return /\.[A-Za-z0-9]+$/.test(base) ? base : `${base}.${format === 'jpeg' ? 'jpg' : format}`;
}
