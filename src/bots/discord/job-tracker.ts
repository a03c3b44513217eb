// Turns the queue's events for Discord jobs into status-message edits: one view per job, rendered
// and pushed through a latest-wins throttle (≤ 1 edit per interval per message), with the final
// state flushed and retried so it is never lost.
import { readFile } from 'node:fs/promises';
import { escapeMarkdown } from 'discord.js';
import type { Logger } from '../../log.ts';
import type { JobQueue, JobRecord, QueueEvent } from '../../queue/types.ts';
import type { EngineEvent } from '../../engine/types.ts';
import { LatestWinsThrottle } from '../common/throttle.ts';
import { fitVideoToSize, VideoTooLargeError } from '../common/fit-video.ts';
import { renderStatus, type DesiredFile, type JobView, type RenderedStatus } from './job-view.ts';
import {
  isTooLarge,
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
}

interface Delivery {
  target: StatusTarget;
  /** Attachments the message carries now, with the content key we uploaded them for. */
  sent: Array<{ name: string; key: string; id: string }>;
}

interface Tracked {
  view: JobView;
  lastPreviewAt: number;
  previewSeq: number;
  lastStepAt?: number;
  msPerStep?: number;
}

interface Snapshot {
  rendered: RenderedStatus;
  terminal: boolean;
}

const TERMINAL_ATTEMPTS = 4;

export class JobTracker {
  private readonly tracked = new Map<string, Tracked>();
  private readonly deliveries = new Map<string, Delivery>();
  private readonly throttle: LatestWinsThrottle<Snapshot>;
  private readonly pendingWork = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: TrackerOptions) {
    this.throttle = new LatestWinsThrottle<Snapshot>((jobId, snap) => this.deliver(jobId, snap), {
      intervalMs: opts.editIntervalMs,
      onError: (err) => opts.log.warn({ err }, 'discord: status edit failed'),
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
    const p = work.catch((err: unknown) => this.opts.log.error({ err }, 'discord: status update failed'));
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
          options: job.options,
          ...(job.promptSource ? { promptSource: job.promptSource } : {}),
          ...(job.reply.notice ? { notice: escapeMarkdown(job.reply.notice) } : {}),
          phase: 'queued',
          notes: [],
        },
        lastPreviewAt: Number.NEGATIVE_INFINITY,
        previewSeq: 0,
      };
      this.tracked.set(job.id, t);
    }
    if (!this.deliveries.has(job.id)) {
      const target = targetFromReply(job.reply);
      if (target) this.deliveries.set(job.id, { target, sent: [] });
    }
    return t;
  }

  private async onEvent(event: QueueEvent): Promise<void> {
    const t = this.entry(event.job);
    const v = t.view;
    switch (event.type) {
      case 'queued':
      case 'position':
        v.phase = 'queued';
        v.position = event.position;
        v.etaMs = event.etaMs;
        break;
      case 'resumed':
        v.phase = 'resumed';
        v.position = event.position;
        delete v.etaMs;
        break;
      case 'started':
        v.phase = 'running';
        v.startedAt = event.job.startedAt ?? Date.now();
        delete v.position;
        delete v.etaMs;
        break;
      case 'engine':
        v.phase = 'running';
        v.startedAt ??= event.job.startedAt ?? Date.now();
        this.applyEngine(t, event.event);
        break;
      case 'done':
        await this.finishDone(t, event.job);
        break;
      case 'failed':
        v.phase = 'failed';
        v.error = event.reason;
        break;
      case 'cancelled':
        v.phase = 'cancelled';
        break;
    }
    if (v.startedAt !== undefined) v.elapsedMs = (event.job.finishedAt ?? Date.now()) - v.startedAt;
    const terminal = v.phase === 'done' || v.phase === 'failed' || v.phase === 'cancelled';
    this.throttle.push(v.jobId, { rendered: renderStatus(v), terminal });
    if (terminal) {
      await this.throttle.flush(v.jobId);
      this.tracked.delete(v.jobId);
      this.deliveries.delete(v.jobId);
    }
  }

  private applyEngine(t: Tracked, e: EngineEvent): void {
    const v = t.view;
    switch (e.type) {
      case 'stage':
        v.stage = e.stage;
        break;
      case 'step': {
        const now = Date.now();
        if (t.lastStepAt !== undefined) {
          const dt = now - t.lastStepAt;
          t.msPerStep = t.msPerStep === undefined ? dt : t.msPerStep * 0.8 + dt * 0.2;
        }
        t.lastStepAt = now;
        Object.assign(v, { section: e.section, sections: e.sections, step: e.step, steps: e.steps, stage: 'sampling' });
        if (t.msPerStep !== undefined) {
          const left = (e.sections - e.section) * e.steps + (e.steps - e.step);
          v.etaMs = left * t.msPerStep;
        }
        if (e.previewPng && now - t.lastPreviewAt >= this.opts.previewIntervalMs) {
          t.lastPreviewAt = now;
          v.preview = { seq: ++t.previewSeq, png: e.previewPng };
        }
        break;
      }
      case 'section':
        v.section = e.section;
        v.sections = e.sections;
        v.sectionVideo = { path: e.videoPath, bytes: 0 };
        break;
      case 'done':
        v.stage = 'done';
        break;
    }
  }

  private async finishDone(t: Tracked, job: JobRecord): Promise<void> {
    const v = t.view;
    v.phase = 'done';
    delete v.etaMs;
    if (job.startedAt !== undefined && job.finishedAt !== undefined) v.startedAt = job.startedAt;
    const video = job.result?.videoPath;
    const limit = this.deliveries.get(job.id)?.target.uploadLimit;
    if (!video || limit === undefined) return;
    try {
      const fit = await fitVideoToSize(video, limit, { workDir: job.workDir, durationSec: job.result?.seconds });
      v.finalVideo = { path: fit.path, bytes: fit.bytes };
      if (fit.reencoded) v.notes.push(`The video was re-encoded to fit Discord's ${mib(limit)} upload limit.`);
    } catch (err) {
      if (!(err instanceof VideoTooLargeError)) throw err;
      v.notes.push(`I could not attach the video: ${err.message}`);
    }
  }

  /** One edit, diffing the wanted attachments against what the message already carries. */
  private async deliver(jobId: string, snap: Snapshot): Promise<void> {
    const d = this.deliveries.get(jobId);
    if (!d) return; // no status message known (should not happen for Discord jobs)
    const attempts = snap.terminal ? TERMINAL_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deliverOnce(jobId, d, snap.rendered);
        return;
      } catch (err) {
        if (attempt >= attempts) throw err;
        this.opts.log.warn({ err, jobId, attempt }, 'discord: final status edit failed, retrying');
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
  }

  private async deliverOnce(jobId: string, d: Delivery, rendered: RenderedStatus): Promise<void> {
    const planned = await this.planAttachments(d, rendered.files);
    let edit: StatusEdit = { content: rendered.content, components: rendered.components, ...(planned ? { attachments: planned } : {}) };
    let outcome;
    try {
      outcome = await this.opts.messenger.edit(d.target, edit);
    } catch (err) {
      if (!isTooLarge(err) || !planned) throw err;
      // Discord refused the upload size: keep the text, say why the file is missing.
      edit = {
        content: `${rendered.content}\nThe video is larger than this place's upload limit, so it could not be attached.`.slice(0, 2000),
        components: rendered.components,
        attachments: { keep: planned.keep, upload: [] },
      };
      outcome = await this.opts.messenger.edit(d.target, edit);
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
  private async planAttachments(d: Delivery, wanted: DesiredFile[]): Promise<{ keep: string[]; upload: OutgoingFile[] } | undefined> {
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

function mib(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
}
