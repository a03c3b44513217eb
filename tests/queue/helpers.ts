// Shared setup for the queue tests: temp data dirs, a real small PNG, requests, an event recorder.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { jobOptions, type JobOptions } from '../../src/options/job-options.ts';
import type { Clock } from '../../src/queue/clock.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { createJobQueue, type JobQueueConfig } from '../../src/queue/job-queue.ts';
import { openJobStore, type JobStore } from '../../src/queue/store.ts';
import type { JobQueue, JobRequest, QueueEvent } from '../../src/queue/types.ts';

const cleanups: Array<() => Promise<void>> = [];

/** Runs everything registered with onCleanup, newest first. Call from afterEach. */
export async function runCleanups(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

export async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'recurvid-queue-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

let png: Promise<Buffer> | undefined;
/** A real 96×64 PNG (landscape: FramePack bucket 768x512). */
export function testImage(): Promise<Buffer> {
  png ??= sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 200, g: 90, b: 40 } } })
    .png()
    .toBuffer();
  return png;
}

export async function request(userId: string, options: Partial<JobOptions> = {}, over: Partial<JobRequest> = {}): Promise<JobRequest> {
  return {
    platform: 'discord',
    userId,
    userName: `user-${userId}`,
    reply: { channelId: 'c1', messageId: `m-${userId}` },
    image: await testImage(),
    imageName: 'photo.png',
    // seconds 2 → 2 sections (FramePack's formula, window 9); 3 steps each.
    options: jobOptions({ prompt: 'the cat waves', seconds: 2, steps: 3, ...options }),
    promptSource: 'user',
    ...over,
  };
}

export const baseConfig = (dataDir: string, over: Partial<JobQueueConfig> = {}): JobQueueConfig => ({
  dataDir,
  queueMax: 50,
  perUser: 1,
  adminIds: ['discord:admin-1'],
  retentionHours: 72,
  retentionMb: 5_000,
  ...over,
});

/** Records every queue event; waitFor() finds a past or future one. */
export class EventLog {
  readonly events: QueueEvent[] = [];
  private waiters: Array<{ match: (e: QueueEvent) => boolean; resolve: (e: QueueEvent) => void }> = [];

  constructor(queue: JobQueue) {
    queue.subscribe((event) => {
      this.events.push(event);
      for (const w of [...this.waiters]) {
        if (w.match(event)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    });
  }

  waitFor<T extends QueueEvent['type']>(type: T, jobId?: string): Promise<Extract<QueueEvent, { type: T }>> {
    const match = (e: QueueEvent) => e.type === type && (jobId === undefined || e.job.id === jobId);
    const past = this.events.find(match);
    if (past) return Promise.resolve(past as Extract<QueueEvent, { type: T }>);
    return new Promise((resolve) => this.waiters.push({ match, resolve: resolve as (e: QueueEvent) => void }));
  }

  /** The first past or future event matching a predicate. */
  waitForMatch(match: (e: QueueEvent) => boolean): Promise<QueueEvent> {
    const past = this.events.find(match);
    if (past) return Promise.resolve(past);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  of<T extends QueueEvent['type']>(type: T): Array<Extract<QueueEvent, { type: T }>> {
    return this.events.filter((e) => e.type === type) as Array<Extract<QueueEvent, { type: T }>>;
  }

  /** Job seq numbers in the order they started. */
  startedSeqs(): number[] {
    return this.of('started').map((e) => e.job.seq);
  }
}

export interface Harness {
  queue: JobQueue;
  store: JobStore;
  engine: FakeEngine;
  events: EventLog;
  dataDir: string;
}

/** A started queue on a SQLite store in dataDir (or the given store), closed after the test. */
export async function startQueue(opts: {
  dataDir: string;
  engine?: FakeEngine;
  store?: JobStore;
  config?: Partial<JobQueueConfig>;
  clock?: Clock;
  closeAfter?: boolean;
}): Promise<Harness> {
  const engine = opts.engine ?? new FakeEngine();
  const store = opts.store ?? (await openJobStore({ dataDir: opts.dataDir }));
  const queue = createJobQueue({ engine, store, config: baseConfig(opts.dataDir, opts.config), ...(opts.clock && { clock: opts.clock }) });
  const events = new EventLog(queue);
  if (opts.closeAfter !== false) {
    onCleanup(async () => {
      await engine.close(); // frees any held step so close() does not wait on a gate
      await queue.close();
      await store.close();
    });
  }
  await queue.start();
  return { queue, store, engine, events, dataDir: opts.dataDir };
}

/** Polls a condition (e.g. a background store write landing); fails after `tries` event-loop turns. */
export async function until(condition: () => Promise<boolean>, what: string, tries = 2_000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`Timed out waiting until ${what}`);
}
