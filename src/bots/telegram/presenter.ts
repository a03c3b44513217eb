// Turns queue events into what the user sees: one status message edited in place (throttled per
// message, slower in groups, and within the chat's call budget that ChatCaller applies), a video message that grows with each finished section, and the
// final video with its settings and follow-up buttons. Media operations of one job run in order.
// Status state comes from the shared reducer (bots/common/status.ts); this file only renders and
// sends. Whatever happens to the uploads, the status message ends with a sentence and Re-roll.
import { stat } from 'node:fs/promises';
import type { Telegram } from 'telegraf';
import type { InlineKeyboardMarkup } from 'telegraf/types';
import type { Logger } from '../../log.ts';
import type { JobQueue, JobRecord, QueueEvent } from '../../queue/types.ts';
import { systemClock, type Clock } from '../../queue/clock.ts';
import { LatestWinsThrottle } from '../common/throttle.ts';
import type { Timers } from '../../util/timers.ts';
import { PRIORITY } from '../common/chat-budget.ts';
import { describeSettings, formatSeconds, sectionOrderNote, initialStatus, isTerminal, reduceStatus, renderJobStatus, type StatusState } from '../common/status.ts';
import { progressVideoLabel, type ProgressVideoShows } from '../common/progress-video.ts';
import { DEFAULT_RETRY_DELAYS_MS, withRetries } from '../common/retry.ts';
import { fitPart, fitText, TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT } from '../common/text-limit.ts';
import { type ChatCaller, describeApiError, isTransient, multipartReplyParameters, NOT_MODIFIED, SKIPPED } from './api.ts';
import type { CallbackSigner } from './callback-data.ts';
import { sendFinalVideo } from './final-video.ts';
import { readReplyTarget, type TelegramReply } from './reply-target.ts';

export interface EditIntervals {
  privateMs: number;
  groupMs: number;
}

export const DEFAULT_EDIT_INTERVALS: EditIntervals = { privateMs: 1500, groupMs: 3000 };

interface StatusEdit {
  chatId: number;
  messageId: number;
  text: string;
  markup: InlineKeyboardMarkup;
  /** The last edit of a finished job: retried on passing failures so the job never looks running. */
  terminal: boolean;
  /**
   * True once a newer edit of the same message was queued. In a busy chat an edit may wait for the
   * chat's budget; if it was overtaken while it waited it is dropped, so the chat spends its calls on
   * the newest state only (an edit that did not wait is sent as it is: every state gets its moment).
   */
  superseded: () => boolean;
}

interface JobView {
  jobId: string;
  reply: TelegramReply;
  state: StatusState;
  /** Counts status pushes: an edit knows whether a newer one exists. */
  statusVersion: number;
  /** The preview video message, once one was sent. */
  videoMessageId?: number;
  /** Serialises media work (previews, final video) for this job. */
  chain: Promise<void>;
  finished: boolean;
}

export interface PresenterDeps {
  telegram: Telegram;
  queue: JobQueue;
  caller: ChatCaller;
  signer: CallbackSigner;
  log: Logger;
  maxUploadBytes: number;
  intervals: EditIntervals;
  clock?: Clock;
  /** Pauses between attempts of an upload or a final status edit (tests shorten them). */
  retryDelaysMs?: readonly number[];
  /** Longest time one attempt of the final upload may take. */
  uploadTimeoutMs?: number;
  /** Timers of the per-message edit throttles (tests move them by hand). */
  timers?: Timers;
}

export class JobPresenter {
  private readonly views = new Map<string, JobView>();
  /** What each status message shows now, so an edit that would change nothing is not sent. */
  private readonly shown = new Map<string, string>();
  private readonly privateEdits: LatestWinsThrottle<StatusEdit>;
  private readonly groupEdits: LatestWinsThrottle<StatusEdit>;

  private readonly clock: Clock;

  constructor(private readonly deps: PresenterDeps) {
    this.clock = deps.clock ?? systemClock;
    const send = (_key: string, edit: StatusEdit): Promise<void> => this.sendEdit(edit);
    const onError = (err: unknown): void => deps.log.warn({ method: 'editMessageText', err: describeApiError(err) }, 'telegram: status edit failed');
    const timers = deps.timers ? { timers: deps.timers } : {};
    this.privateEdits = new LatestWinsThrottle(send, { intervalMs: deps.intervals.privateMs, onError, ...timers });
    this.groupEdits = new LatestWinsThrottle(send, { intervalMs: deps.intervals.groupMs, onError, ...timers });
  }

  /** Applies one queue event; never throws (a chat problem must not disturb the queue). */
  handle(event: QueueEvent): void {
    const view = this.viewFor(event.job);
    if (!view || view.finished) return;
    view.state = reduceStatus(view.state, event, this.clock.now());
    if (event.type === 'engine' && event.event.type === 'section') {
      const e = event.event;
      // The last section's video is the final video, which follows at once: posting it as a
      // preview too would show the same video twice (always so for a one-section job).
      if (e.section < e.sections) this.enqueue(view, () => this.sendPreview(view, e.videoPath, e.shows, e.section, e.sections));
    }
    if (isTerminal(view.state)) {
      view.finished = true;
      if (event.type === 'done') this.enqueue(view, () => this.deliverFinal(view, event.job));
      else this.enqueue(view, () => this.finishStatus(view));
      return;
    }
    this.pushStatus(view);
  }

  /** Shows a state right away for a job the adapter just submitted (its events may have run first). */
  submitted(job: JobRecord, position: number, etaMs: number | null): void {
    const view = this.viewFor(job);
    if (view?.state.phase !== 'queued') return;
    view.state.position = position;
    view.state.etaMs = etaMs;
    this.pushStatus(view);
  }

  /** Waits for every pending edit and media upload. */
  async idle(): Promise<void> {
    await Promise.all([...this.views.values()].map((v) => v.chain));
    await Promise.all([this.privateEdits.close(), this.groupEdits.close()]);
  }

  // ---- state --------------------------------------------------------------------------------

  private viewFor(job: JobRecord): JobView | undefined {
    const existing = this.views.get(job.id);
    if (existing) return existing;
    const reply = readReplyTarget(job.reply);
    if (!reply) return undefined; // not a Telegram job we can answer
    const view: JobView = {
      jobId: job.id,
      reply,
      state: initialStatus(job),
      statusVersion: 0,
      videoMessageId: reply.videoMessageId,
      chain: Promise.resolve(),
      finished: false,
    };
    this.views.set(job.id, view);
    return view;
  }

  private enqueue(view: JobView, work: () => Promise<void>): void {
    view.chain = view.chain.then(work).catch((err: unknown) => {
      this.deps.log.warn({ jobId: view.jobId, err: describeApiError(err) }, 'telegram: media update failed');
    });
  }

  // ---- status text --------------------------------------------------------------------------

  private throttleFor(view: JobView): LatestWinsThrottle<StatusEdit> {
    return view.reply.chatType === 'private' ? this.privateEdits : this.groupEdits;
  }

  private statusKey(view: JobView): string {
    return `${view.reply.chatId}:${view.reply.statusMessageId}`;
  }

  private pushStatus(view: JobView): void {
    const version = ++view.statusVersion;
    this.throttleFor(view).push(this.statusKey(view), {
      superseded: () => view.statusVersion !== version,
      chatId: view.reply.chatId,
      messageId: view.reply.statusMessageId,
      text: fitPart((prompt) => renderJobStatus({ ...view.state, options: { ...view.state.options, prompt } }), view.state.options.prompt, TELEGRAM_TEXT_LIMIT),
      markup: this.statusMarkup(view),
      terminal: isTerminal(view.state),
    });
  }

  /** Cancel while the job is active; Re-roll once it is done or failed (so a lost video is one press away). */
  private statusMarkup(view: JobView): InlineKeyboardMarkup {
    const { signer } = this.deps;
    const { phase } = view.state;
    if (phase === 'queued' || phase === 'running' || phase === 'resumed') {
      return { inline_keyboard: [[{ text: 'Cancel', callback_data: signer.encode({ action: 'cancel', subject: view.jobId }) }]] };
    }
    if (phase === 'done' || phase === 'failed') {
      return { inline_keyboard: [[{ text: 'Re-roll', callback_data: signer.encode({ action: 'reroll', subject: view.jobId }) }]] };
    }
    return { inline_keyboard: [] };
  }

  /** Final status text, sent without waiting for the interval (but after any 429 pause). */
  private async finishStatus(view: JobView): Promise<void> {
    this.pushStatus(view);
    await this.throttleFor(view).flush(this.statusKey(view));
    this.views.delete(view.jobId);
    this.shown.delete(this.statusKey(view));
  }

  private async sendEdit(edit: StatusEdit): Promise<void> {
    const { telegram, caller } = this.deps;
    const key = `${edit.chatId}:${edit.messageId}`;
    const content = JSON.stringify([edit.text, edit.markup]);
    if (this.shown.get(key) === content) return;
    const once = () =>
      caller.call(
        edit.chatId,
        'editMessageText',
        async (waited) => (waited && !edit.terminal && edit.superseded() ? SKIPPED : telegram.editMessageText(edit.chatId, edit.messageId, undefined, edit.text, { reply_markup: edit.markup })),
        edit.terminal ? PRIORITY.final : PRIORITY.progress,
      );
    if (edit.terminal) {
      await withRetries(once, {
        delaysMs: this.deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
        retryable: isTransient,
        onRetry: (err, attempt) =>
          this.deps.log.warn({ chatId: edit.chatId, method: 'editMessageText', attempt, err: describeApiError(err) }, 'telegram: final status edit failed, retrying'),
      });
    } else {
      if ((await once()) === SKIPPED) return;
    }
    this.shown.set(key, content);
  }

  // ---- videos -------------------------------------------------------------------------------

  private async sendPreview(view: JobView, videoPath: string, shows: ProgressVideoShows, section: number, sections: number): Promise<void> {
    const size = (await stat(videoPath)).size;
    if (size > this.deps.maxUploadBytes) return; // previews are a courtesy; only the final video is fitted
    const note = view.videoMessageId === undefined && sections > 1 ? `\n${sectionOrderNote(view.state.options)}` : '';
    const caption = fitText(`Job #${view.state.jobSeq}: ${progressVideoLabel(shows, section, sections)}.${note}`, TELEGRAM_CAPTION_LIMIT);
    await this.putVideo(view, videoPath, caption);
  }

  /** Replaces the preview video in place when possible, else sends a new video message. */
  private async putVideo(view: JobView, videoPath: string, caption: string): Promise<void> {
    const { telegram, caller, log } = this.deps;
    const chatId = view.reply.chatId;
    if (view.videoMessageId !== undefined) {
      try {
        const messageId = view.videoMessageId;
        await caller.call(chatId, 'editMessageMedia', () =>
          telegram.editMessageMedia(chatId, messageId, undefined, {
            type: 'video',
            media: { source: videoPath, filename: 'preview.mp4' },
            caption,
            supports_streaming: true,
          }),
        );
        return;
      } catch (err) {
        log.info({ jobId: view.jobId, err: describeApiError(err) }, 'preview edit failed; sending a new video message');
      }
    }
    const sent = await caller.call(chatId, 'sendVideo', () =>
      telegram.sendVideo(chatId, { source: videoPath, filename: 'preview.mp4' }, {
        caption,
        supports_streaming: true,
        reply_parameters: multipartReplyParameters(view.reply.statusMessageId),
      }),
    ).catch((err: unknown) => {
      // Previews are a courtesy: a failed one is logged and the job and its final video go on.
      log.warn({ jobId: view.jobId, method: 'sendVideo', err: describeApiError(err) }, 'telegram: preview upload failed');
      return undefined;
    });
    if (sent === undefined) return;
    if (sent !== NOT_MODIFIED) {
      view.videoMessageId = sent.message_id;
      await this.deps.queue.updateReply(view.jobId, { videoMessageId: String(sent.message_id) }).catch(() => undefined);
    }
  }

  private async deliverFinal(view: JobView, job: JobRecord): Promise<void> {
    const { signer, log } = this.deps;
    const videoPath = job.result?.videoPath;
    if (!videoPath) {
      view.state = { ...view.state, phase: 'failed', error: 'the job finished without a video.' };
      return await this.finishStatus(view);
    }
    const seconds = job.result?.seconds ?? job.options.seconds;
    const outcome = await sendFinalVideo(
      { ...this.deps, ...(this.deps.retryDelaysMs ? { retryDelaysMs: this.deps.retryDelaysMs } : {}) },
      {
        jobId: job.id,
        chatId: view.reply.chatId,
        videoPath,
        workDir: job.workDir,
        fileName: `recurvid-${job.seq}.mp4`,
        // A long prompt is shortened to fit the caption; the settings and the delivery note stay.
        caption: (note) =>
          fitPart(
            (prompt) => `Job #${job.seq} (${formatSeconds(seconds)})\n${describeSettings({ ...job.options, prompt }, job.endImagePath !== undefined)}${note ? `\n${note}` : ''}`,
            job.options.prompt,
            TELEGRAM_CAPTION_LIMIT,
          ),
        markup: {
          inline_keyboard: [
            [
              { text: 'Re-roll', callback_data: signer.encode({ action: 'reroll', subject: job.id }) },
              { text: 'Same seed longer', callback_data: signer.encode({ action: 'longer', subject: job.id }) },
            ],
          ],
        },
        replyTo: view.reply.requestMessageId ?? view.reply.statusMessageId,
      },
    ).catch((err: unknown) => {
      log.error({ jobId: job.id, err: describeApiError(err) }, 'telegram: final video delivery failed unexpectedly');
      return { delivered: false as const, note: 'I could not send the video because of an internal error. It is kept on the server; press Re-roll to try again.' };
    });
    if (!outcome.delivered || (outcome.how !== 'video' && outcome.note)) view.state = { ...view.state, delivery: outcome.note };
    if (!outcome.delivered) {
      // The job stays done (the video exists and is kept for retention); the record says it never arrived.
      await this.deps.queue.updateReply(job.id, { delivery: 'failed' }).catch((err: unknown) => log.warn({ jobId: job.id, err }, 'could not record the failed delivery'));
    } else if (outcome.how !== 'video') {
      await this.deps.queue.updateReply(job.id, { delivery: outcome.how }).catch(() => undefined);
    }
    await this.finishStatus(view);
  }
}
