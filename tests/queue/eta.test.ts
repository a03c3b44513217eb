import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/queue/clock.ts';
import { FakeEngine, type FakeEngineOptions } from '../fakes/engines/fake-engine.ts';
import { request, runCleanups, startQueue, tempDataDir } from './helpers.ts';

afterEach(runCleanups);

// The fake engine "spends" these on the shared manual clock; the queue must learn them.
const TIMING = { stepMs: 100, setupMs: 500, sectionMs: 200 } satisfies FakeEngineOptions;
const SECTIONS = 2; // seconds 2 at window 9 (helpers' default request)
const STEPS = 3;
const WHOLE_JOB = TIMING.setupMs + SECTIONS * (STEPS * TIMING.stepMs + TIMING.sectionMs);

describe('position and ETA', () => {
  it('is unknown until a run with the same size, steps and TeaCache setting has finished', async () => {
    const clock = new ManualClock();
    const engine = new FakeEngine({ ...TIMING, clock });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine, clock });

    const first = await queue.submit(await request('u1'));
    expect(first.etaMs).toBeNull();
    expect((await events.waitFor('queued', first.job.id)).etaMs).toBeNull();
    await events.waitFor('done', first.job.id);

    const second = await queue.submit(await request('u1'));
    expect(second.etaMs).toBe(WHOLE_JOB);
    await events.waitFor('done', second.job.id);
    // The bots get the per-stage times with the job, so a running job's ETA counts decodes too.
    expect((await events.waitFor('started', first.job.id)).job.estimate).toBeUndefined();
    expect((await events.waitFor('started', second.job.id)).job.estimate).toMatchObject({ stepMs: TIMING.stepMs, sectionOverheadMs: TIMING.sectionMs });

    const otherSteps = await queue.submit(await request('u1', { steps: 4 }));
    expect(otherSteps.etaMs).toBeNull();
    await events.waitFor('done', otherSteps.job.id);
    const noTeacache = await queue.submit(await request('u1', { cache: 'none' }));
    expect(noTeacache.etaMs).toBeNull();
    await events.waitFor('done', noTeacache.job.id);
    // Same steps and TeaCache but a longer video: more sections, same per-step cost.
    const longer = await queue.submit(await request('u1', { seconds: 3.6 })); // round(108/36) = 3 sections
    expect(longer.etaMs).toBe(TIMING.setupMs + 3 * (STEPS * TIMING.stepMs + TIMING.sectionMs));
  });

  it('counts what is left of the running job and updates with positions', async () => {
    const clock = new ManualClock();
    const engine = new FakeEngine({ ...TIMING, clock, manual: true });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine, clock });
    const warmup = await queue.submit(await request('u0'));
    engine.release(SECTIONS * STEPS);
    await events.waitFor('done', warmup.job.id);

    const running = await queue.submit(await request('u1'));
    engine.release(1);
    await engine.waitForHeld(); // section 1, step 1 done
    const leftOfRunning = (SECTIONS * STEPS - 1) * TIMING.stepMs + SECTIONS * TIMING.sectionMs;
    expect(queue.position(running.job.id)).toEqual({ position: 1, etaMs: leftOfRunning });

    const second = await queue.submit(await request('u2'));
    const third = await queue.submit(await request('u3'));
    expect(second).toMatchObject({ position: 2, etaMs: leftOfRunning + WHOLE_JOB });
    expect(third).toMatchObject({ position: 3, etaMs: leftOfRunning + 2 * WHOLE_JOB });

    await queue.cancel(second.job.id, 'discord:u2');
    const moved = await events.waitFor('position', third.job.id);
    expect(moved).toMatchObject({ position: 2, etaMs: leftOfRunning + WHOLE_JOB });
    engine.releaseAll();
    await events.waitFor('done', third.job.id);
  });

  it("tells a waiting job again while the run ahead progresses, only when what it was told is off by a quarter and a minute", async () => {
    const SLOW = { stepMs: 10_000, setupMs: 0, sectionMs: 120_000 } satisfies FakeEngineOptions; // decodes dominate, as on a CPU
    const clock = new ManualClock();
    const engine = new FakeEngine({ ...SLOW, clock, manual: true });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine, clock });
    const warmup = await queue.submit(await request('u0'));
    engine.release(SECTIONS * STEPS);
    await events.waitFor('done', warmup.job.id);

    const running = await queue.submit(await request('u1', { seconds: 7.2 })); // 6 sections
    engine.release(1);
    await engine.waitForHeld();
    const waiting = await queue.submit(await request('u2'));
    expect(waiting.position).toBe(2);
    let told = waiting.etaMs!;
    const retold: number[] = [];
    for (let section = 1; section <= 5; section++) {
      engine.release(section === 1 ? STEPS - 1 : STEPS);
      await events.waitForMatch((e) => e.type === 'engine' && e.job.id === running.job.id && e.event.type === 'section' && e.event.section === section);
      await engine.waitForHeld();
      const update = events.of('position').filter((e) => e.job.id === waiting.job.id).slice(retold.length);
      for (const e of update) {
        expect(e.position).toBe(2); // still waiting behind the same job
        expect(Math.abs(e.etaMs! - told)).toBeGreaterThan(Math.max(60_000, 0.25 * told));
        expect(e.etaMs).toBe(queue.position(waiting.job.id)!.etaMs);
        told = e.etaMs!;
        retold.push(told);
      }
    }
    expect(retold.length).toBeGreaterThanOrEqual(2); // updated while it waits…
    expect(retold.length).toBeLessThan(5); // …but not at every section
    engine.releaseAll();
    await events.waitFor('done', waiting.job.id);
  });

  it('keeps the measured timings across a restart', async () => {
    const dataDir = await tempDataDir();
    const clock = new ManualClock();
    const first = await startQueue({ dataDir, engine: new FakeEngine({ ...TIMING, clock }), clock, closeAfter: false });
    const job = await first.queue.submit(await request('u1'));
    await first.events.waitFor('done', job.job.id);
    await first.queue.close();
    await first.store.close();

    const second = await startQueue({ dataDir, engine: new FakeEngine({ ...TIMING, clock }), clock });
    expect((await second.queue.submit(await request('u1'))).etaMs).toBe(WHOLE_JOB);
  });
});
