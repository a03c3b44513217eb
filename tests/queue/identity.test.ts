// Users are platform-scoped identities: a Discord and a Telegram user with the same numeric id are
// two people for limits, fairness, ownership and admin rights, and jobs stored by a version that
// kept bare ids still belong to their owner after a restart.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { loadConfig } from '../../src/config.ts';
import { openJobStore } from '../../src/queue/store.ts';
import { QueueRefusal } from '../../src/queue/types.ts';
import { request, runCleanups, startQueue, tempDataDir } from './helpers.ts';

afterEach(runCleanups);

const onTelegram = { platform: 'telegram' as const };

describe('platform-scoped identities', () => {
  it('equal numeric ids on Discord and Telegram have separate per-user limits and fairness rounds', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue } = await startQueue({ dataDir: await tempDataDir(), engine, config: { perUser: 2 } });
    const first = (await queue.submit(await request('42'))).job;
    const second = (await queue.submit(await request('42'))).job;
    const telegram = (await queue.submit(await request('42', {}, onTelegram))).job;
    expect(telegram.userId).toBe('telegram:42');
    expect(first.userId).toBe('discord:42');
    // Telegram 42's first job is a first job: it runs before Discord 42's second one.
    expect(queue.position(telegram.id)?.position).toBe(2);
    expect(queue.position(second.id)?.position).toBe(3);
    await expect(queue.submit(await request('42'))).rejects.toMatchObject({ code: 'user_limit' });
    expect((await queue.submit(await request('42', {}, onTelegram))).job.userId).toBe('telegram:42');
    await expect(queue.submit(await request('42', {}, onTelegram))).rejects.toBeInstanceOf(QueueRefusal);
    expect((await queue.activeForUser('discord', '42')).map((j) => j.id)).toEqual([first.id, second.id]);
    expect((await queue.activeForUser('telegram', 'telegram:42'))[0]?.id).toBe(telegram.id);
  });

  it('only the same identity owns a job: the bare id and the other platform’s equal id do not', async () => {
    const engine = new FakeEngine({ manual: true });
    const { queue } = await startQueue({ dataDir: await tempDataDir(), engine });
    const job = (await queue.submit(await request('42'))).job;
    expect(await queue.cancel(job.id, 'telegram:42')).toMatchObject({ ok: false, reason: 'not_owner' });
    expect(await queue.cancel(job.id, '42')).toMatchObject({ ok: false, reason: 'not_owner' });
    expect(await queue.cancel(job.id, 'discord:42')).toMatchObject({ ok: true });
  });

  it('a Telegram user whose numeric id equals a Discord admin’s id is not an admin', async () => {
    const adminIds = loadConfig({ ADMIN_USER_IDS: 'discord:42' }).ADMIN_USER_IDS;
    const engine = new FakeEngine({ manual: true });
    const { queue } = await startQueue({ dataDir: await tempDataDir(), engine, config: { adminIds } });
    const onDiscord = (await queue.submit(await request('u1'))).job;
    const onTg = (await queue.submit(await request('u2', {}, onTelegram))).job;
    expect(queue.isAdmin('telegram:42')).toBe(false);
    expect(queue.isAdmin('42')).toBe(false);
    expect(await queue.cancel(onTg.id, 'telegram:42')).toMatchObject({ ok: false, reason: 'not_owner' });
    expect(await queue.cancel(onDiscord.id, 'telegram:42')).toMatchObject({ ok: false, reason: 'not_owner' });
    expect(await queue.cancel(onDiscord.id, 'discord:42')).toMatchObject({ ok: true, job: { cancelledBy: 'discord:42' } });
  });

  it('jobs stored with bare ids (before identities were scoped) resume owned, limited and cancellable by their user', async () => {
    const dataDir = await tempDataDir();
    const store1 = await openJobStore({ dataDir });
    const first = await startQueue({ dataDir, store: store1, engine: new FakeEngine({ manual: true }), closeAfter: false });
    const discord = (await first.queue.submit(await request('42'))).job;
    const telegram = (await first.queue.submit(await request('42', {}, onTelegram))).job;
    await first.engine.close();
    await first.queue.close();
    // What an older version wrote: the platform's bare id.
    for (const job of [discord, telegram]) await store1.putJob({ ...(await store1.getJob(job.id))!, userId: '42' });
    await store1.close();

    const { queue, events } = await startQueue({ dataDir, engine: new FakeEngine({ manual: true }) });
    expect(events.of('resumed').map((e) => [e.job.id, e.job.userId])).toEqual([
      [discord.id, 'discord:42'],
      [telegram.id, 'telegram:42'],
    ]);
    expect((await queue.activeForUser('discord', '42')).map((j) => j.id)).toEqual([discord.id]);
    await expect(queue.submit(await request('42'))).rejects.toMatchObject({ code: 'user_limit' });
    await expect(queue.submit(await request('42', {}, onTelegram))).rejects.toMatchObject({ code: 'user_limit' });
    expect(await queue.cancel(discord.id, 'telegram:42')).toMatchObject({ ok: false, reason: 'not_owner' });
    expect(await queue.cancel(discord.id, 'discord:42')).toMatchObject({ ok: true });
    expect((await queue.get(telegram.id))?.userId).toBe('telegram:42');
  });
});
