// Restart scenarios shared by the SQLite and Redis store tests: the same guarantees on both backends.
import { expect } from 'vitest';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { createJobQueue } from '../../src/queue/job-queue.ts';
import type { JobStore } from '../../src/queue/store.ts';
import { baseConfig, EventLog, request, until } from './helpers.ts';

async function started(store: JobStore, dataDir: string, engine: FakeEngine) {
  const queue = createJobQueue({ engine, store, config: baseConfig(dataDir) });
  const events = new EventLog(queue);
  await queue.start();
  return { queue, events };
}

const SHAPE = { sections: 2, steps: 2 } as const;

/** The process dies (no close) while job A is in its second section; B and C are waiting. */
export async function crashAndResume(openStore: () => Promise<JobStore>, dataDir: string): Promise<void> {
  const store1 = await openStore();
  const engine1 = new FakeEngine({ ...SHAPE, manual: true });
  const first = await started(store1, dataDir, engine1);
  const a = (await first.queue.submit(await request('u1'))).job;
  const b = (await first.queue.submit(await request('u2'))).job;
  const c = (await first.queue.submit(await request('u3'))).job;
  engine1.release(SHAPE.steps);
  await first.events.waitForMatch((e) => e.type === 'engine' && e.job.id === a.id && e.event.type === 'section');
  await engine1.waitForHeld();
  // A finished section is written to the store at once (not throttled).
  await until(async () => (await store1.getJob(a.id))?.progress.section === 1, 'section 1 of A is stored');
  expect((await store1.getJob(a.id))?.state).toBe('running');
  const firstStart = (await store1.getJob(a.id))?.startedAt;
  expect(firstStart).toBeDefined();

  // "Crash": the first queue is abandoned as it is; its engine stays blocked forever.
  const store2 = await openStore();
  const engine2 = new FakeEngine(SHAPE);
  const second = await started(store2, dataDir, engine2);
  try {
    expect(second.events.of('resumed').map((e) => [e.job.id, e.position, e.job.resumes])).toEqual([
      [a.id, 1, 1],
      [b.id, 2, 1],
      [c.id, 3, 1],
    ]);
    await second.events.waitFor('done', c.id);
    // Same work dirs, A continued from its checkpoint, each job ran exactly once.
    expect(engine2.calls.map((call) => [call.workDir, call.startSection])).toEqual([
      [a.workDir, 1],
      [b.workDir, 0],
      [c.workDir, 0],
    ]);
    expect(second.events.startedSeqs()).toEqual([a.seq, b.seq, c.seq]);
    expect(second.events.of('done')).toHaveLength(3);
    expect((await store2.loadIndex()).jobs.map((e) => e.id)).toEqual([a.id, b.id, c.id]);
    for (const job of [a, b, c]) expect(await store2.getJob(job.id)).toMatchObject({ state: 'done', resumes: 1 });
    // A's user-facing start survives the crash; this run's own start is new.
    const resumedA = await store2.getJob(a.id);
    expect(resumedA?.firstStartedAt).toBe(firstStart);
    expect(resumedA!.startedAt!).toBeGreaterThanOrEqual(firstStart!);
    // New submissions continue the numbering.
    expect((await second.queue.submit(await request('u4'))).job.seq).toBe(c.seq + 1);
  } finally {
    await second.queue.close();
    await store2.close();
    await store1.close();
  }
}

/** close() during a job: it stays 'running' in the store, resumes next start; finished jobs never rerun. */
export async function closeAndResume(openStore: () => Promise<JobStore>, dataDir: string): Promise<void> {
  const store1 = await openStore();
  const engine1 = new FakeEngine({ ...SHAPE, manual: true });
  const first = await started(store1, dataDir, engine1);
  const a = (await first.queue.submit(await request('u1'))).job;
  const b = (await first.queue.submit(await request('u2'))).job;
  engine1.release(SHAPE.steps + 1); // section 1 and one step of section 2
  await first.events.waitForMatch((e) => e.type === 'engine' && e.event.type === 'step' && e.event.section === 2);
  await engine1.waitForHeld();
  await first.queue.close();
  expect(engine1.calls[0]?.outcome).toBe('cancelled'); // the engine was stopped...
  expect(first.events.of('cancelled')).toEqual([]); // ...but the job was not cancelled
  expect(await store1.getJob(a.id)).toMatchObject({ state: 'running', progress: { section: 2, step: 1 } });
  expect((await store1.getJob(b.id))?.state).toBe('queued');
  await store1.close();

  const store2 = await openStore();
  const engine2 = new FakeEngine(SHAPE);
  const second = await started(store2, dataDir, engine2);
  await second.events.waitFor('done', b.id);
  expect(second.events.of('resumed').map((e) => e.job.id)).toEqual([a.id, b.id]);
  expect(engine2.calls.map((call) => call.startSection)).toEqual([1, 0]);
  const done = await second.queue.get(a.id);
  expect(done?.result?.videoPath).toBe(`${a.workDir}/final.mp4`);
  await second.queue.close();
  await store2.close();

  const store3 = await openStore();
  const engine3 = new FakeEngine(SHAPE);
  const third = await started(store3, dataDir, engine3);
  expect(third.events.events).toEqual([]);
  expect(third.queue.stats()).toEqual({ queued: 0, running: 0 });
  expect(engine3.calls).toEqual([]);
  await third.queue.close();
  await store3.close();
}
