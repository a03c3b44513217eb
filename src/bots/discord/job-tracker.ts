// Turns the queue's events for Discord jobs into status-message edits: one view per job (its status
// state from the shared reducer in bots/common/status.ts, plus the files only Discord shows),
// rendered and pushed through a latest-wins throttle (≤ 1 edit per interval per message). The
// final state is retried and falls back until the message says how the job ended: with the video,
// with a smaller one, or with a sentence saying it could not be attached (and Re-roll).
import { readFile } from 'node:fs/promises';
import { escapeMarkdown } from 'discord.js';
import type { Logger } from '../../log.ts';
import type { JobQueue, JobRecord, QueueEvent } from '../../queue/types.ts';
import { systemClock, type Clock } from '../../queue/clock.ts';
import type { EngineEvent } from '../../engine/types.ts';
import { LatestWinsThrottle } from '../common/throttle.ts';
import { fitVideoToSize, VideoTooLargeError } from '../common/fit-video.ts';
import { realSleep } from '../common/retry.ts';
import { initialStatus, isTerminal, reduceStatus } from '../common/status.ts';
import { renderStatus, type DesiredFile, type JobView, type RenderedStatus } from './job-view.ts';
import {
  describeDiscordError,
  isTooLarge,
  isTransientDiscord,
  replyFromTarget,
  targetFromReply,
  type OutgoingFile,
  type StatusEdit,
  type StatusMessenger,
  type StatusTarget,
} from './status-messenger.ts';

export interface TrackerOptions {
  queue: JobQueue;
  messenger: StatusMessenger;
  log: Logger;
  /** Minimum time between two edits of one status message. */
  editIntervalMs: number;
  /** Minimum time between two latent previews on one status message. */
  previewIntervalMs: number;
  /** Time source for elapsed times and preview spacing (real time when omitted). */
  clock?: Clock;
  /** Pauses before the 2nd, 3rd… attempt of a final status edit (tests shorten them). */
  retryDelaysMs?: readonly number[];
}

interface Delivery {
  target: StatusTarget;
  /** Attachments the message carries now, with the content key we uploaded them for. */
  sent: Array<{ name: string; key: string; id: string }>;
  /** Content keys Discord refused; they are not offered again (a refused preview must not block every later edit). */
  refused: Set<string>;
}

interface Tracked {
  view: JobView;
  lastPreviewAt: number;
  previewSeq: number;
}

interface Snapshot {
  rendered: RenderedStatus;
  terminal: boolean;
  view: JobView;
}

const DEFAULT_RETRY_DELAYS_MS = [1000, 2000, 4000] as const;
/** After Discord says "too big", aim at this share of what was refused. */
const SHRINK_FACTOR = 0.5;

export class JobTracker {
  private readonly tracked = new Map<string, Tracked>();
  private readonly deliveries = new Map<string, Delivery>();
  private readonly throttle: LatestWinsThrottle<Snapshot>;
  private readonly pendingWork = new Set<Promise<void>>();
  private readonly clock: Clock;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: TrackerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.throttle = new LatestWinsThrottle<Snapshot>((jobId, snap) => this.deliver(jobId, snap), {
      intervalMs: opts.editIntervalMs,
      onError: (err) => opts.log.warn({ err: describeDiscordError(err) }, 'discord: status edit failed'),
    });
  }

  start(): void {
    this.unsubscribe = this.opts.queue.subscribe((event) => this.track(this.onEvent(event)), 'discord');
  }

  /** Stops listening and sends whatever is still pending. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.allSettled([...this.pendingWork]);
    await this.throttle.close();
  }

  private track(work: Promise<void>): void {
    const p = work.catch((err: unknown) => this.opts.log.error({ err: describeDiscordError(err) }, 'discord: status update failed'));
    this.pendingWork.add(p);
    void p.finally(() => this.pendingWork.delete(p));
  }

  private entry(job: JobRecord): Tracked {
    let t = this.tracked.get(job.id);
    if (!t) {
      t = {
        view: {
          jobId: job.id,
          seq: job.seq,
          ownerId: job.userId,
          status: initialStatus(job),
          ...(job.promptSource ? { promptSource: job.promptSource } : {}),
          ...(job.reply.notice ? { notice: escapeMarkdown(job.reply.notice) } : {}),
          notes: [],
        },
        lastPreviewAt: Number.NEGATIVE_INFINITY,
        previewSeq: 0,
      };
      this.tracked.set(job.id, t);
    }
    if (!this.deliveries.has(job.id)) {
      const target = targetFromReply(job.reply);
      if (target) this.deliveries.set(job.id, { target, sent: [], refused: new Set() });
    }
    return t;
  }

  private async onEvent(event: QueueEvent): Promise<void> {
    const t = this.entry(event.job);
    const v = t.view;
    if (isTerminal(v.status)) return;
    v.status = reduceStatus(v.status, event, this.clock.now());
    if (event.type === 'engine') this.applyEngine(t, event.event);
    if (event.type === 'done') await this.prepareFinalVideo(t, event.job);
    const terminal = isTerminal(v.status);
    this.throttle.push(v.jobId, { rendered: renderStatus(v), terminal, view: v });
    if (terminal) {
      await this.throttle.flush(v.jobId);
      this.tracked.delete(v.jobId);
      this.deliveries.delete(v.jobId);
    }
  }

  /** The files only Discord shows: latent previews and the growing video. */
  private applyEngine(t: Tracked, e: EngineEvent): void {
    const v = t.view;
    if (e.type === 'step' && e.previewPng) {
      const now = this.clock.now();
      if (now - t.lastPreviewAt >= this.opts.previewIntervalMs) {
        t.lastPreviewAt = now;
        v.preview = { seq: ++t.previewSeq, png: e.previewPng };
      }
    } else if (e.type === 'section' && e.section < e.sections) {
      // The last section's video is the final video: attaching it as progress too would upload it twice.
      v.sectionVideo = { path: e.videoPath, bytes: 0, shows: e.shows, section: e.section, sections: e.sections };
    }
  }

  private async prepareFinalVideo(t: Tracked, job: JobRecord): Promise<void> {
    const v = t.view;
    const video = job.result?.videoPath;
    const limit = this.deliveries.get(job.id)?.target.uploadLimit;
    if (!video || limit === undefined) return;
    try {
      const fit = await fitVideoToSize(video, limit, { workDir: job.workDir });
      v.finalVideo = { path: fit.path, bytes: fit.bytes };
      if (fit.reencoded) v.notes.push(`The video was re-encoded to fit Discord's ${mib(limit)} upload limit.`);
    } catch (err) {
      this.opts.log.warn({ jobId: job.id, err: describeDiscordError(err) }, 'discord: the final video could not be fitted to the upload limit');
      const why = err instanceof VideoTooLargeError ? err.message.charAt(0).toLowerCase() + err.message.slice(1) : 'it could not be re-encoded.';
      v.status = { ...v.status, delivery: `I could not attach the video: ${why} It is kept on the server; press Re-roll to make a shorter one.` };
      await this.markUndelivered(job.id);
    }
  }

  /** One status edit; the final one is retried and, failing that, falls back to a smaller file or none. */
  private async deliver(jobId: string, snap: Snapshot): Promise<void> {
    const d = this.deliveries.get(jobId);
    if (!d) return; // no status message known (should not happen for Discord jobs)
    if (!snap.terminal) {
      await this.deliverOnce(jobId, d, snap.rendered, snap.terminal);
      return;
    }
    const delays = this.opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    let lastError: unknown;
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      try {
        await this.deliverOnce(jobId, d, snap.rendered, true);
        return;
      } catch (err) {
        lastError = err;
        if (isTooLarge(err) || !isTransientDiscord(err)) break;
        if (attempt < delays.length) {
          this.opts.log.warn({ jobId, attempt: attempt + 1, err: describeDiscordError(err) }, 'discord: final status edit failed, retrying');
          await realSleep(delays[attempt]!);
        }
      }
    }
    await this.fallBack(jobId, d, snap, lastError);
  }

  /** The final edit could not go through as planned: try a smaller video, then none, and say so. */
  private async fallBack(jobId: string, d: Delivery, snap: Snapshot, cause: unknown): Promise<void> {
    const v = snap.view;
    const { log } = this.opts;
    const video = v.finalVideo;
    if (video && isTooLarge(cause)) {
      log.warn({ jobId, err: describeDiscordError(cause) }, 'discord: the final video was refused as too big; sending a smaller version');
      try {
        const smaller = await fitVideoToSize(video.path, Math.floor(Math.min(d.target.uploadLimit, video.bytes) * SHRINK_FACTOR), { workDir: dirnameOf(video.path) });
        const view: JobView = { ...v, finalVideo: { path: smaller.path, bytes: smaller.bytes }, status: { ...v.status, delivery: 'Discord refused the upload (file too big). I sent a smaller version.' } };
        await this.deliverOnce(jobId, d, renderStatus(view), true);
        return;
      } catch (err) {
        cause = err instanceof VideoTooLargeError ? cause : err;
        log.warn({ jobId, err: describeDiscordError(err) }, 'discord: a smaller version could not be made or sent');
      }
    }
    log.error({ jobId, err: describeDiscordError(cause) }, 'discord: the final status could not be sent with its video; sending it without');
    const why = isTooLarge(cause) ? 'Discord refused the upload (file too big)' : `Discord did not accept the upload (${shortReason(cause)})`;
    const delivery = v.status.phase === 'done' && video ? `I could not attach the video: ${why}. It is kept on the server; press Re-roll to try again.` : v.status.delivery;
    const view: JobView = { ...v, finalVideo: undefined, status: { ...v.status, ...(delivery ? { delivery } : {}) } };
    if (video) await this.markUndelivered(jobId);
    // Without a new upload this edit is small; it is retried like the others, then given up with a log line.
    const delays = this.opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deliverOnce(jobId, d, renderStatus(view), true);
        break;
      } catch (err) {
        if (attempt >= delays.length || !isTransientDiscord(err)) throw err;
        await realSleep(delays[attempt]!);
      }
    }
  }

  /** The job stays done (its video exists and is kept for retention); its record says the video never arrived. */
  private async markUndelivered(jobId: string): Promise<void> {
    await this.opts.queue.updateReply(jobId, { delivery: 'failed' }).catch((err: unknown) => this.opts.log.warn({ jobId, err }, 'discord: could not record the failed delivery'));
  }

  private async deliverOnce(jobId: string, d: Delivery, rendered: RenderedStatus, terminal: boolean): Promise<void> {
    const planned = await this.planAttachments(d, rendered.files);
    const edit: StatusEdit = { content: rendered.content, components: rendered.components, ...(planned ? { attachments: planned } : {}) };
    let outcome: Awaited<ReturnType<typeof this.opts.messenger.edit>>;
    try {
      outcome = await this.opts.messenger.edit(d.target, edit);
    } catch (err) {
      if (terminal || !planned?.upload.length) throw err;
      // A progress file Discord refuses must not freeze the status: note it, send the text without it.
      this.opts.log.warn({ jobId, err: describeDiscordError(err) }, 'discord: progress upload failed; the job goes on without it');
      for (const f of rendered.files) if (planned.upload.some((u) => u.name === f.name)) d.refused.add(f.key);
      outcome = await this.opts.messenger.edit(d.target, { ...edit, attachments: { keep: planned.keep, upload: [] } });
    }
    const targetChanged = outcome.target.messageId !== d.target.messageId || outcome.target.token !== d.target.token;
    d.target = outcome.target;
    d.sent = outcome.attachments.map((a) => {
      const prior = d.sent.find((s) => s.id === a.id);
      const wanted = rendered.files.find((f) => f.name === a.filename);
      return { name: a.filename, id: a.id, key: prior?.key ?? wanted?.key ?? '' };
    });
    if (targetChanged) await this.opts.queue.updateReply(jobId, replyFromTarget(d.target));
  }

  /** undefined when the message already carries exactly the wanted files. */
  private async planAttachments(d: Delivery, all: DesiredFile[]): Promise<{ keep: string[]; upload: OutgoingFile[] } | undefined> {
    const wanted = all.filter((f) => !d.refused.has(f.key));
    const isSent = (f: DesiredFile) => d.sent.find((s) => s.name === f.name && s.key === f.key);
    if (wanted.length === d.sent.length && wanted.every(isSent)) return undefined;
    const keep: string[] = [];
    const upload: OutgoingFile[] = [];
    for (const f of wanted) {
      const already = isSent(f);
      if (already) {
        keep.push(already.id);
        continue;
      }
      const data = 'data' in f.source ? f.source.data : await readFile(f.source.path);
      // Progress videos over the limit are skipped; the final one was fitted beforehand.
      if (data.length > d.target.uploadLimit) continue;
      upload.push({ name: f.name, data, contentType: f.contentType });
    }
    return { keep, upload };
  }
}

function dirnameOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i > 0 ? path.slice(0, i) : '.';
}

function shortReason(err: unknown): string {
  return describeDiscordError(err).replace(/^\S+ \S+ → /, '');
}

function mib(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
}
