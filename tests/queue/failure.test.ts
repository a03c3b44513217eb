import { access } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { request, runCleanups, startQueue, tempDataDir } from './helpers.ts';
import { describeFailure } from '../../src/queue/messages.ts';

afterEach(runCleanups);

describe('engine failures and listeners', () => {
  it('turns an engine error into a readable failed event, keeps the record and image, and goes on', async () => {
    const engine = new FakeEngine();
    const { queue, events, store } = await startQueue({ dataDir: await tempDataDir(), engine });
    engine.failNextRun('CUDA out of memory. Tried to allocate 2.00 GiB\n    at Session.run (onnxruntime)', { afterSteps: 2 });
    const bad = await queue.submit(await request('u1'));
    const next = await queue.submit(await request('u2'));

    const failed = await events.waitFor('failed', bad.job.id);
    const reason = failed.reason;
    expect(reason).toMatch(/^Sorry, the video could not be made \(the GPU ran out of memory; fewer seconds or a smaller image may fit; error id E-[0-9a-f]{8}\)\. Your image was kept; you can try again\.$/);
    expect(reason).not.toMatch(/onnxruntime|Session\.run|2\.00 GiB/);
    expect(failed.job).toMatchObject({ state: 'failed', error: reason });
    expect(await store.getJob(bad.job.id)).toMatchObject({ state: 'failed', error: reason });
    await access(bad.job.imagePath);
    expect(engine.calls[0]).toMatchObject({ outcome: 'failed', steps: 2 });

    const done = await events.waitFor('done', next.job.id);
    expect(done.job.result?.sectionPaths).toHaveLength(2);
  });

  it('raw engine text (server paths, ffmpeg stderr) never reaches the user: a sentence and an error id, the detail in the log', async () => {
    const engine = new FakeEngine();
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine });
    const raw = "ffmpeg exited with code 1: /srv/recurvid/data/jobs/abc/work/section-2.mp4: Invalid data found when processing input\n[h264 @ 0x55d] error while decoding MB 3 4";
    engine.failNextRun(raw);
    const { job } = await queue.submit(await request('u1'));
    const failed = await events.waitFor('failed', job.id);
    expect(failed.reason).toMatch(/^Sorry, the video could not be made \(an internal error; error id (E-[0-9a-f]{8})\)\./);
    expect(failed.reason).not.toMatch(/ffmpeg|\/srv|h264|Invalid data/);
  });

  it('describeFailure names the kinds a user can act on and gives every failure its own id', () => {
    const a = describeFailure(new Error("The file jobs/x/work/section-1.mp4 is 300 MB, over the artifact store's cap of 256 MB"));
    expect(a.reason).toContain('a finished section was larger than the job store accepts');
    expect(a.reason).not.toContain('jobs/x');
    expect(a.reason).toContain(a.errorId);
    expect(describeFailure('The engine process stopped unexpectedly (SIGKILL); it was restarted').reason).toContain('the engine process stopped unexpectedly;');
    expect(describeFailure(new Error('boom')).errorId).not.toBe(describeFailure(new Error('boom')).errorId);
  });

  it('re-emits every engine event with the job, and keeps progress on the record', async () => {
    const engine = new FakeEngine({ sections: 2, steps: 2 });
    const { queue, events, store } = await startQueue({ dataDir: await tempDataDir(), engine });
    const { job } = await queue.submit(await request('u1'));
    const done = await events.waitFor('done', job.id);
    const kinds = events.of('engine').map((e) => (e.event.type === 'stage' ? `stage:${e.event.stage}` : e.event.type));
    expect(kinds).toEqual([
      'stage:loading', 'stage:encoding_text', 'stage:encoding_image', 'stage:sampling',
      'step', 'step', 'stage:decoding', 'stage:writing', 'section',
      'stage:sampling', 'step', 'step', 'stage:decoding', 'stage:writing', 'section',
      'stage:done', 'done',
    ]);
    const lastStep = events.of('engine').filter((e) => e.event.type === 'step').at(-1)!;
    expect(lastStep.job.progress).toEqual({ stage: 'sampling', section: 2, sections: 2, step: 2, steps: 2 });
    expect(done.job.result).toMatchObject({ videoPath: `${job.workDir}/final.mp4`, sectionPaths: [`${job.workDir}/section-1.mp4`, `${job.workDir}/section-2.mp4`] });
    expect((await store.getJob(job.id))?.progress).toMatchObject({ stage: 'done', section: 2, sections: 2 });
  });

  it('delivers events per platform, and a throwing listener does not stop the queue', async () => {
    const engine = new FakeEngine();
    const { queue, events } = await startQueue({ dataDir: await tempDataDir(), engine });
    queue.subscribe(() => {
      throw new Error('adapter bug');
    });
    const telegramSeen: string[] = [];
    const unsubscribe = queue.subscribe((e) => telegramSeen.push(`${e.job.platform}:${e.type}`), 'telegram');
    const d = await queue.submit(await request('u1'));
    const t = await queue.submit(await request('u2', {}, { platform: 'telegram' }));
    await events.waitFor('done', t.job.id);
    expect((await queue.get(d.job.id))?.state).toBe('done');
    expect(new Set(telegramSeen)).toEqual(new Set(['telegram:queued', 'telegram:started', 'telegram:engine', 'telegram:done']));
    unsubscribe();
    const count = telegramSeen.length;
    const t2 = await queue.submit(await request('u2', {}, { platform: 'telegram' }));
    await events.waitFor('done', t2.job.id);
    expect(telegramSeen).toHaveLength(count);
  });

  it('stores reply updates', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue, store, events } = await startQueue({ dataDir: await tempDataDir(), engine });
    const { job } = await queue.submit(await request('u1'));
    await queue.updateReply(job.id, { statusMessageId: 's-9' });
    expect((await queue.get(job.id))?.reply).toEqual({ channelId: 'c1', messageId: 'm-u1', statusMessageId: 's-9' });
    expect((await store.getJob(job.id))?.reply.statusMessageId).toBe('s-9');
    engine.releaseAll();
    await events.waitFor('done', job.id);
    await queue.updateReply(job.id, { finalMessageId: 'f-1' });
    expect((await store.getJob(job.id))?.reply).toMatchObject({ statusMessageId: 's-9', finalMessageId: 'f-1' });
  });
});
