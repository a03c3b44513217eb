// The options issue 16 added (model, cache, end image) travel through the queue: the end image is
// saved next to the input and handed to the engine, options persist, and ETAs are learned per model
// and cache mode.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { timingKey } from '../../src/queue/timing.ts';
import { request, runCleanups, startQueue, tempDataDir } from './helpers.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { openJobStore } from '../../src/queue/store.ts';

afterEach(runCleanups);

describe('job options: model, cache, end image', () => {
  it('timing keys separate model and cache mode, keeping the old keys for original + TeaCache on/off', () => {
    expect(timingKey('640x608', { steps: 25, cache: 'teacache', model: 'original' })).toBe('640x608|steps=25|teacache=on');
    expect(timingKey('640x608', { steps: 25, cache: 'none', model: 'original' })).toBe('640x608|steps=25|teacache=off');
    expect(timingKey('640x608', { steps: 25, cache: 'magcache', model: 'original' })).toBe('640x608|steps=25|cache=magcache');
    expect(timingKey('640x608', { steps: 25, cache: 'teacache', model: 'f1' })).toBe('640x608|steps=25|teacache=on|model=f1');
    expect(timingKey('640x608', { steps: 25, cache: 'teacache', model: 'original' })).toBe('640x608|steps=25|teacache=on');
  });

  it('saves the end image next to the input, passes it to the engine and keeps model/cache in the record', async () => {
    const dataDir = await tempDataDir();
    const h = await startQueue({ dataDir });
    const end = await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 1, g: 2, b: 3 } } }).jpeg().toBuffer();
    const req = await request('u1', { model: 'original', cache: 'magcache', endFrameStrength: 0.5 }, { endImage: end, endImageName: 'last.JPG' });
    const { job } = await h.queue.submit(req);
    expect(job.endImagePath).toBe(path.join(dataDir, 'jobs', job.id, 'end.jpg'));
    expect((await readFile(job.endImagePath!)).equals(end)).toBe(true);
    await h.events.waitFor('done', job.id);
    const call = h.engine.calls[0]!;
    expect(call.endImagePath).toBe(job.endImagePath);
    expect(call.options).toMatchObject({ model: 'original', cache: 'magcache', endFrameStrength: 0.5 });
    const stored = await h.store.getJob(job.id);
    expect(stored).toMatchObject({ endImagePath: job.endImagePath, options: { cache: 'magcache' } });
  });

  it('a job without an end image has no endImagePath', async () => {
    const h = await startQueue({ dataDir: await tempDataDir() });
    const { job } = await h.queue.submit(await request('u2', { model: 'f1' }));
    await h.events.waitFor('done', job.id);
    expect(job.endImagePath).toBeUndefined();
    expect(h.engine.calls[0]!.endImagePath).toBeUndefined();
    expect(h.engine.calls[0]!.options.model).toBe('f1');
  });

  it('a job stored before MagCache (a teacache flag, no cache mode) resumes with its cache mode, and runs as it was asked', async () => {
    const dataDir = await tempDataDir();
    const store1 = await openJobStore({ dataDir });
    const first = await startQueue({ dataDir, store: store1, engine: new FakeEngine({ manual: true }), closeAfter: false });
    const { job } = await first.queue.submit(await request('u3', { cache: 'none' }));
    await first.engine.close();
    await first.queue.close();
    // What an older version wrote: the flag, and neither a cache mode nor a model.
    const { cache: _cache, model: _model, ...older } = (await store1.getJob(job.id))!.options;
    await store1.putJob({ ...(await store1.getJob(job.id))!, options: { ...older, teacache: false } as never });
    await store1.close();

    const h = await startQueue({ dataDir });
    await h.events.waitFor('done', job.id);
    expect(h.engine.calls[0]!.options).toMatchObject({ cache: 'none', model: 'original' });
    expect(h.engine.calls[0]!.options).not.toHaveProperty('teacache');
  });
});
