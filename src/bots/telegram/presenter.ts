// Turns queue events into what the user sees: one status message edited in place (throttled per
// message, slower in groups), a video message that grows with each finished section, and the
// final video with its settings and follow-up buttons. Media operations of one job run in order.
import { stat } from 'node:fs/promises';
import type { Telegram } from 'telegraf';
import type { InlineKeyboardMarkup } from 'telegraf/types';
import type { Logger } from '../../log.ts';
import type { JobQueue, JobRecord, QueueEvent } from '../../queue/types.ts';
import { LatestWinsThrottle } from '../common/throttle.ts';
import { describeSettings, END_FIRST_NOTE, renderJobStatus, type StatusState } from '../common/status.ts';
import { fitVideoToSize, VideoTooLargeError } from '../common/fit-video.ts';
import { ChatCaller, describeApiError, NOT_MODIFIED } from './api.ts';
import type { CallbackSigner } from './callback-data.ts';
import { formatMB } from './limits.ts';
import { readReplyTarget, type TelegramReply } from './reply-target.ts';

export interface EditIntervals {
  privateMs: number;
  groupMs: number;
}

export const DEFAULT_EDIT_INTERVALS: EditIntervals = { privateMs: 1500, groupMs: 3000 };

const CAPTION_LIMIT = 1024;

interface StatusEdit {
  chatId: number;
  messageId: number;
  text: string;
  markup: InlineKeyboardMarkup;
}

interface JobView {
  jobId: string;
  reply: TelegramReply;
  state: StatusState;
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
}

export class JobPresenter {
  private readonly views = new Map<string, JobView>();
  /** What each status message shows now, so an edit that would change nothing is not sent. */
  private readonly shown = new Map<string, string>();
  private readonly privateEdits: LatestWinsThrottle<StatusEdit>;
  private readonly groupEdits: LatestWinsThrottle<StatusEdit>;

  constructor(private readonly deps: PresenterDeps) {
    const send = (_key: string, edit: StatusEdit): Promise<void> => this.sendEdit(edit);
    const onError = (err: unknown): void => deps.log.warn({ err: describeApiError(err) }, 'status edit failed');
    this.privateEdits = new LatestWinsThrottle(send, { intervalMs: deps.intervals.privateMs, onError });
    this.groupEdits = new LatestWinsThrottle(send, { intervalMs: deps.intervals.groupMs, onError });
  }

  /** Applies one queue event; never throws (a chat problem must not disturb the queue). */
  handle(event: QueueEvent): void {
    const view = this.viewFor(event.job);
    if (!view || view.finished) return;
    const state = view.state;
    state.options = event.job.options;
    switch (event.type) {
      case 'queued':
      case 'position':
        if (state.phase === 'queued' || state.phase === 'resumed') {
          state.position = event.position;
          state.etaMs = event.etaMs;
        }
        break;
      case 'resumed':
        Object.assign(state, { phase: 'resumed', position: event.position, etaMs: undefined });
        break;
      case 'started':
        Object.assign(state, { phase: 'running', stage: 'starting', position: undefined, etaMs: undefined });
        break;
      case 'engine':
        this.applyEngine(view, event);
        break;
      case 'done':
        view.finished = true;
        Object.assign(state, { phase: 'done', elapsedMs: elapsed(event.job) });
        this.enqueue(view, () => this.deliverFinal(view, event.job));
        return;
      case 'failed':
        view.finished = true;
        Object.assign(state, { phase: 'failed', error: event.reason });
        this.enqueue(view, () => this.finishStatus(view));
        return;
      case 'cancelled':
        view.finished = true;
        Object.assign(state, { phase: 'cancelled' });
        this.enqueue(view, () => this.finishStatus(view));
        return;
    }
    this.pushStatus(view);
  }

  /** Shows a state right away for a job the adapter just submitted (its events may have run first). */
  submitted(job: JobRecord, position: number, etaMs: number | null): void {
    const view = this.viewFor(job);
    if (!view || view.state.phase !== 'queued') return;
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
      state: { jobSeq: job.seq, phase: 'queued', options: job.options },
      videoMessageId: reply.videoMessageId,
      chain: Promise.resolve(),
      finished: false,
    };
    this.views.set(job.id, view);
    return view;
  }

  private applyEngine(view: JobView, event: Extract<QueueEvent, { type: 'engine' }>): void {
    const state = view.state;
    const e = event.event;
    state.phase = 'running';
    state.elapsedMs = elapsed(event.job);
    switch (e.type) {
      case 'stage':
        state.stage = e.stage;
        break;
      case 'step':
        Object.assign(state, { stage: 'sampling', section: e.section, sections: e.sections, step: e.step, steps: e.steps });
        break;
      case 'section':
        Object.assign(state, { section: e.section, sections: e.sections });
        this.enqueue(view, () => this.sendPreview(view, e.videoPath, e.section, e.sections));
        break;
      case 'done':
        break;
    }
  }

  private enqueue(view: JobView, work: () => Promise<void>): void {
    view.chain = view.chain.then(work).catch((err: unknown) => {
      this.deps.log.warn({ jobId: view.jobId, err: describeApiError(err) }, 'telegram media update failed');
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
    const active = view.state.phase === 'queued' || view.state.phase === 'running' || view.state.phase === 'resumed';
    const markup: InlineKeyboardMarkup = {
      inline_keyboard: active ? [[{ text: 'Cancel', callback_data: this.deps.signer.encode({ action: 'cancel', subject: view.jobId }) }]] : [],
    };
    this.throttleFor(view).push(this.statusKey(view), {
      chatId: view.reply.chatId,
      messageId: view.reply.statusMessageId,
      text: renderJobStatus(view.state),
      markup,
    });
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
    await caller.call(edit.chatId, 'editMessageText', () =>
      telegram.editMessageText(edit.chatId, edit.messageId, undefined, edit.text, { reply_markup: edit.markup }),
    );
    this.shown.set(key, content);
  }

  // ---- videos -------------------------------------------------------------------------------

  private async sendPreview(view: JobView, videoPath: string, section: number, sections: number): Promise<void> {
    const size = (await stat(videoPath)).size;
    if (size > this.deps.maxUploadBytes) return; // previews are a courtesy; only the final video is fitted
    const note = view.videoMessageId === undefined && sections > 1 ? `\n${END_FIRST_NOTE}` : '';
    const caption = `Job #${view.state.jobSeq}: preview after section ${section}/${sections}.${note}`;
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
        reply_parameters: { message_id: view.reply.statusMessageId, allow_sending_without_reply: true },
      }),
    );
    if (sent !== NOT_MODIFIED) {
      view.videoMessageId = sent.message_id;
      await this.deps.queue.updateReply(view.jobId, { videoMessageId: String(sent.message_id) }).catch(() => undefined);
    }
  }

  private async deliverFinal(view: JobView, job: JobRecord): Promise<void> {
    const { telegram, caller, signer, maxUploadBytes, log } = this.deps;
    const chatId = view.reply.chatId;
    const videoPath = job.result?.videoPath;
    if (!videoPath) {
      view.state = { ...view.state, phase: 'failed', error: 'the job finished without a video.' };
      return await this.finishStatus(view);
    }
    let fitted;
    try {
      fitted = await fitVideoToSize(videoPath, maxUploadBytes, { workDir: job.workDir });
    } catch (err) {
      const reason = err instanceof VideoTooLargeError ? err.message : 'the video could not be prepared for upload.';
      log.warn({ jobId: job.id, err: describeApiError(err) }, 'final video could not be fitted');
      view.state = { ...view.state, phase: 'failed', error: reason };
      return await this.finishStatus(view);
    }
    const shrunk = fitted.reencoded ? `\nRe-encoded to ${formatMB(fitted.bytes)} to fit Telegram's upload limit.` : '';
    const caption = truncate(`Job #${job.seq} (${job.result?.seconds ?? job.options.seconds} s)\n${describeSettings(job.options)}${shrunk}`, CAPTION_LIMIT);
    const markup: InlineKeyboardMarkup = {
      inline_keyboard: [
        [
          { text: 'Re-roll', callback_data: signer.encode({ action: 'reroll', subject: job.id }) },
          { text: 'Same seed longer', callback_data: signer.encode({ action: 'longer', subject: job.id }) },
        ],
      ],
    };
    await caller.call(chatId, 'sendVideo', () =>
      telegram.sendVideo(chatId, { source: fitted.path, filename: `recurvid-${job.seq}.mp4` }, {
        caption,
        supports_streaming: true,
        reply_markup: markup,
        reply_parameters: { message_id: view.reply.requestMessageId ?? view.reply.statusMessageId, allow_sending_without_reply: true },
      }),
    );
    await this.finishStatus(view);
  }
}

function elapsed(job: JobRecord): number | undefined {
  if (!job.startedAt) return undefined;
  return (job.finishedAt ?? Date.now()) - job.startedAt;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
