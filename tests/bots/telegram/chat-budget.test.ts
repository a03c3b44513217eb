// The per-chat call budget: a token bucket per chat that text edits, media edits and uploads all
// wait on, served by priority. Measured with 50 queued jobs in one group on manual timers: the
// group never gets more than Telegram's 20 calls in any minute, every status ends in its final
// state and every video arrives.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Telegram } from 'telegraf';
import { ChatBudget, PRIORITY, TELEGRAM_BUDGET } from '../../../src/bots/common/chat-budget.ts';
import { ChatCaller } from '../../../src/bots/telegram/api.ts';
import { CallbackSigner } from '../../../src/bots/telegram/callback-data.ts';
import { JobPresenter } from '../../../src/bots/telegram/presenter.ts';
import { createLogger } from '../../../src/log.ts';
import { jobOptions } from '../../../src/options/job-options.ts';
import type { JobQueue, JobRecord, QueueEvent } from '../../../src/queue/types.ts';
import { ManualTimers } from '../../fakes/manual-timers.ts';

const GROUP = -5001;
const MINUTE = 60_000;

/** The most calls that fall in any window of `windowMs` (calls sorted by time). */
function maxInWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('ChatBudget', () => {
  it('lets a group make at most 20 calls in any minute, however many wait', async () => {
    const timers = new ManualTimers();
    const budget = new ChatBudget(() => TELEGRAM_BUDGET.group, timers);
    const granted: number[] = [];
    for (let i = 0; i < 100; i++) void budget.acquire('-1').then(() => granted.push(timers.now()));
    for (let s = 0; s < 600; s++) await timers.advance(1000);
    expect(granted).toHaveLength(100); // nobody starves
    expect(maxInWindow(granted, MINUTE)).toBeLessThanOrEqual(20);
    expect(maxInWindow(granted, MINUTE)).toBeGreaterThanOrEqual(19); // and the budget is used
  });

  it('serves a final call before progress that waited longer, and gives back a call that was not made', async () => {
    const timers = new ManualTimers();
    const budget = new ChatBudget(() => ({ burst: 1, refillMs: 1000 }), timers);
    const order: string[] = [];
    await budget.acquire('c'); // the burst is spent
    void budget.acquire('c', PRIORITY.progress).then(() => order.push('progress 1'));
    void budget.acquire('c', PRIORITY.progress).then(() => order.push('progress 2'));
    void budget.acquire('c', PRIORITY.final).then(() => order.push('final'));
    await timers.advance(1000);
    expect(order).toEqual(['final']);
    budget.refund('c'); // the final call decided not to call after all
    await timers.advance(0);
    expect(order).toEqual(['final', 'progress 1']);
    await timers.advance(1000);
    expect(order).toEqual(['final', 'progress 1', 'progress 2']);
    expect(budget.waiting('c')).toBe(0);
  });

  it('keeps chats apart: a busy group does not slow a private chat', async () => {
    const timers = new ManualTimers();
    const budget = new ChatBudget((c) => (c.startsWith('-') ? TELEGRAM_BUDGET.group : TELEGRAM_BUDGET.private), timers);
    for (let i = 0; i < 30; i++) void budget.acquire('-1');
    let privateAt: number | undefined;
    void budget.acquire('42').then(() => (privateAt = timers.now()));
    await timers.advance(0);
    expect(privateAt).toBe(0);
  });
});

describe('50 queued jobs in one Telegram group', () => {
  let dir: string;
  let videoPath: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tg-budget-'));
    videoPath = join(dir, 'v.mp4');
    await writeFile(videoPath, Buffer.alloc(2048, 1)); // uploaded as bytes; never decoded here
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Queues 50 jobs in one group, runs them one after another (2 s between queue events), and records every call. */
  async function fiftyJobs(withBudget: boolean) {
    const timers = new ManualTimers();
    const calls: Array<{ method: string; at: number; messageId?: number; text?: string }> = [];
    let nextMessageId = 10_000;
    const lastText = new Map<number, string>();
    const telegram = {
      editMessageText: async (_chat: number, messageId: number, _inline: undefined, text: string) => {
        calls.push({ method: 'editMessageText', at: timers.now(), messageId, text });
        lastText.set(messageId, text);
        return true;
      },
      editMessageMedia: async () => {
        calls.push({ method: 'editMessageMedia', at: timers.now() });
        return true;
      },
      sendVideo: async () => {
        calls.push({ method: 'sendVideo', at: timers.now() });
        return { message_id: nextMessageId++ };
      },
      callApi: async (method: string) => {
        calls.push({ method: `final:${method}`, at: timers.now() });
        return { message_id: nextMessageId++ };
      },
    } as unknown as Telegram;
    const log = createLogger({ LOG_LEVEL: 'silent' });
    const budget = withBudget ? new ChatBudget((c) => (c.startsWith('-') ? TELEGRAM_BUDGET.group : TELEGRAM_BUDGET.private), timers) : undefined;
    const caller = new ChatCaller(log, { now: () => timers.now(), ...(budget && { budget }) });
    const queue = { updateReply: async () => undefined } as unknown as JobQueue;
    const presenter = new JobPresenter({
      telegram, queue, caller, signer: new CallbackSigner('123:abc'), log, maxUploadBytes: 50 * 2 ** 20,
      intervals: { privateMs: 1500, groupMs: 3000 }, clock: { now: () => timers.now() }, timers,
    });

    const jobs: JobRecord[] = Array.from({ length: 50 }, (_, i) => ({
      id: `j${i + 1}`, seq: i + 1, platform: 'telegram', userId: `telegram:${100 + i}`,
      reply: { chatId: String(GROUP), chatType: 'supergroup', statusMessageId: String(1000 + i) },
      imagePath: videoPath, workDir: dir, options: jobOptions({ seconds: 2, steps: 2 }),
      state: 'queued', progress: {}, createdAt: 0, resumes: 0,
    }));
    const emit = async (event: QueueEvent) => {
      presenter.handle(event);
      await timers.advance(2000); // two seconds between queue events
    };
    for (const [i, job] of jobs.entries()) await emit({ type: 'queued', job, position: i + 1, etaMs: (i + 1) * 60_000 });
    for (const [k, job] of jobs.entries()) {
      await emit({ type: 'started', job: { ...job, state: 'running', startedAt: timers.now() } });
      for (const later of jobs.slice(k + 1)) presenter.handle({ type: 'position', job: later, position: jobs.indexOf(later) - k, etaMs: 60_000 });
      for (const section of [1, 2]) {
        for (const step of [1, 2]) await emit({ type: 'engine', job, event: { type: 'step', section, sections: 2, step, steps: 2, elapsedMs: 1000 * step, stepMs: 1000 } });
        await emit({ type: 'engine', job, event: { type: 'section', section, sections: 2, videoPath, shows: 'whole', frames: 33, seconds: 1.1 } });
      }
      await emit({ type: 'done', job: { ...job, state: 'done', finishedAt: timers.now(), result: { videoPath, frames: 66, seconds: 2.2, sectionPaths: [] } } });
    }
    let idle = false;
    void presenter.idle().then(() => (idle = true));
    for (let i = 0; i < 3600 && !idle; i++) {
      await timers.advance(1000);
      await new Promise((r) => setImmediate(r)); // file reads of the uploads are real I/O
    }
    expect(idle).toBe(true);
    return { calls, lastText, jobs };
  }

  it('stay within 20 calls a minute (text and media edits and uploads counted), and every status ends final', async () => {
    const { calls, lastText, jobs } = await fiftyJobs(true);

    expect(maxInWindow(calls.map((c) => c.at), MINUTE)).toBeLessThanOrEqual(20);
    expect(calls.filter((c) => c.method === 'final:sendVideo')).toHaveLength(50); // every video arrived
    expect(calls.some((c) => c.method === 'sendVideo' || c.method === 'editMessageMedia')).toBe(true); // previews were counted too
    for (const job of jobs) expect(lastText.get(Number(job.reply.statusMessageId)), job.id).toMatch(/is done/);
    // Coalesced: far fewer edits than the ~2900 status changes pushed.
    expect(calls.filter((c) => c.method === 'editMessageText').length).toBeLessThan(400);
  });

  it('(without the budget the same run breaks the limit: what the budget is measured against)', async () => {
    const { calls } = await fiftyJobs(false);
    expect(maxInWindow(calls.map((c) => c.at), MINUTE)).toBeGreaterThan(20);
  });
});
