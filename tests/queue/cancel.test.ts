import { access } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { request, runCleanups, startQueue, tempDataDir } from './helpers.ts';
import { EngineCancelledError, type Engine } from '../../src/engine/types.ts';

afterEach(runCleanups);

describe('cancel', () => {
  it('a queued job leaves at once and the jobs behind it move up', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, events, store } = await startQueue({ dataDir: await tempDataDir(), engine });
    const a = await queue.submit(await request('u1'));
    const b = await queue.submit(await request('u2'));
    const c = await queue.submit(await request('u3'));

    const result = await queue.cancel(b.job.id, 'discord:u2');
    expect(result).toMatchObject({ ok: true, wasRunning: false, job: { state: 'cancelled', cancelledBy: 'discord:u2' } });
    expect(await events.waitFor('cancelled', b.job.id)).toMatchObject({ by: 'discord:u2' });
    expect(queue.position(b.job.id)).toBeNull();
    expect(queue.position(c.job.id)?.position).toBe(2);
    expect(events.of('position').map((e) => [e.job.id, e.position])).toEqual([[c.job.id, 2]]);
    expect((await store.getJob(b.job.id))?.state).toBe('cancelled');
    await access(b.job.imagePath); // kept, like every finished job, until retention

    engine.releaseAll();
    await events.waitFor('done', c.job.id);
    expect(engine.calls.map((call) => call.workDir)).toEqual([a.job.workDir, c.job.workDir]);
  });

  it('a running job stops within one step and the next job starts', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine });
    const a = await queue.submit(await request('u1'));
    const b = await queue.submit(await request('u2'));
    engine.release(2);
    await engine.waitForHeld(); // two steps done, waiting before the third
    expect(engine.calls[0]!.steps).toBe(2);

    const result = await queue.cancel(a.job.id, 'discord:u1');
    expect(result).toMatchObject({ ok: true, wasRunning: true });
    const cancelled = await events.waitFor('cancelled', a.job.id);
    expect(cancelled.by).toBe('discord:u1');
    expect(cancelled.job.state).toBe('cancelled');
    expect(engine.calls[0]).toMatchObject({ outcome: 'cancelled', steps: 2 });
    await events.waitFor('started', b.job.id);
    expect((await queue.get(a.job.id))?.state).toBe('cancelled');
  });

  it('only the owner or an admin may cancel', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine });
    const a = await queue.submit(await request('u1'));
    const b = await queue.submit(await request('u2'));

    expect(await queue.cancel(b.job.id, 'discord:u1')).toEqual({
      ok: false,
      reason: 'not_owner',
      message: 'Only the person who started this job (or an admin) can cancel it.',
    });
    expect(queue.position(b.job.id)?.position).toBe(2);
    expect(queue.isAdmin('discord:admin-1')).toBe(true);
    expect(queue.isAdmin('discord:u1')).toBe(false);

    await events.waitFor('started', a.job.id); // a running job, not merely a queued one
    const byAdmin = await queue.cancel(a.job.id, 'discord:admin-1');
    expect(byAdmin).toMatchObject({ ok: true, wasRunning: true, job: { cancelledBy: 'discord:admin-1' } });
    expect((await events.waitFor('cancelled', a.job.id)).by).toBe('discord:admin-1');
  });

  it('says so when the job is finished or unknown', async () => {
    const engine = new FakeEngine();
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine });
    const a = await queue.submit(await request('u1'));
    await events.waitFor('done', a.job.id);
    expect(await queue.cancel(a.job.id, 'discord:u1')).toEqual({
      ok: false,
      reason: 'finished',
      message: `Job #${a.job.seq} has already finished, so there is nothing to cancel.`,
    });
    expect(await queue.cancel('no-such-job', 'discord:u1')).toMatchObject({ ok: false, reason: 'not_found' });
  });
});

describe('one GPU', () => {
  it('never starts the next job while a cancelled one is still unwinding', async () => {
    // An engine that takes a while to stop (like freeing GPU memory) and counts overlapping runs.
    let inFlight = 0;
    let maxInFlight = 0;
    const engine: Engine = {
      describe: () => 'slow-to-stop engine',
      close: async () => undefined,
      async run(job) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await new Promise<void>((resolve) => {
            if (job.signal.aborted) resolve();
            job.signal.addEventListener('abort', () => resolve(), { once: true });
            setTimeout(resolve, 200);
          });
          if (job.signal.aborted) {
            await new Promise((r) => setTimeout(r, 50)); // unwinding after the cancel
            throw new EngineCancelledError();
          }
          return { videoPath: `${job.workDir}/final.mp4`, frames: 1, seconds: 0, timings: {}, resumed: false };
        } finally {
          inFlight--;
        }
      },
    };
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine: engine as unknown as FakeEngine }); // the harness only calls close()
    const a = await queue.submit(await request('u1'));
    const b = await queue.submit(await request('u2'));
    await events.waitFor('started', a.job.id);
    await queue.cancel(a.job.id, 'discord:u1');
    await events.waitFor('done', b.job.id);
    expect(maxInFlight).toBe(1);
  });
});
