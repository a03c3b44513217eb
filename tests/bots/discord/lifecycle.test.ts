// Job lifecycle through Discord: buttons (cancel by owner, stranger, admin; re-roll; same seed
// longer), a job that outlives its 15-minute interaction token, and a restart mid-job.
import { afterEach, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { FakeEngine } from '../../fakes/engines/fake-engine.ts';
import { createJobQueue } from '../../../src/queue/job-queue.ts';
import { openJobStore } from '../../../src/queue/store.ts';
import { createDiscordBot } from '../../../src/bots/discord/index.ts';
import { OptionType, type FakeMessage } from '../../fakes/discord/payloads.ts';
import type { FakeDiscord } from '../../fakes/discord/server.ts';
import { botConfig, callback, pngAttachment, startHarness, waitForMessage, type Harness } from './harness.ts';

let h: Harness | undefined;
const extraCleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of extraCleanups.splice(0).reverse()) await fn();
  await h?.close();
  h = undefined;
});

function buttonId(message: FakeMessage, label: string): string {
  const rows = message.components as Array<{ components: Array<{ label: string; custom_id: string }> }>;
  const button = rows.flatMap((r) => r.components).find((b) => b.label === label);
  if (!button) throw new Error(`no button '${label}' on: ${JSON.stringify(message.components)}`);
  return button.custom_id;
}

async function startHeldJob(harness: Harness, opts: { seconds?: number } = {}) {
  const { fake, alice } = harness;
  const att = await pngAttachment(fake);
  const extra = opts.seconds ? [{ name: 'seconds', type: OptionType.Number, value: opts.seconds }] : [];
  const inter = fake.slash(alice, 'animate', [{ name: 'image', type: OptionType.Attachment, value: att.id }, ...extra], [att]);
  await (harness.engine as FakeEngine).waitForHeld();
  const status = await waitForMessage(fake, () => fake.originalOf(inter.id), (m) => m.components.length > 0, 'a status message with buttons');
  return { ...inter, status };
}

function ephemeralReplyTo(fake: FakeDiscord, interactionId: string) {
  return fake.waitForCalls(callback(interactionId), { what: 'the button response' }).then(([c]) => c!);
}

describe('discord job buttons', () => {
  test('a stranger pressing Cancel gets an ephemeral "not your job" and the job goes on; the owner cancels it', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 2, steps: 3, manual: true }) });
    const { fake, bob, alice } = h;
    const job = await startHeldJob(h);
    const cancelId = buttonId(job.status, 'Cancel');

    const stranger = fake.pressButton(bob, job.status, cancelId);
    const refusal = await ephemeralReplyTo(fake, stranger.id);
    expect(refusal.body?.type).toBe(4);
    expect((refusal.body?.data as { flags: number }).flags & 64).toBe(64);
    expect(String((refusal.body?.data as { content: string }).content)).toMatch(/not your job/i);
    const [active] = await h.queue.activeForUser('discord', alice.id);
    expect(active?.state).toMatch(/queued|running/);

    const owner = fake.pressButton(alice, job.status, cancelId);
    const ack = await ephemeralReplyTo(fake, owner.id);
    expect(ack.body?.type).toBe(6); // deferred update: the status message itself says it
    const cancelled = await waitForMessage(fake, () => fake.originalOf(job.id), (m) => m.content.includes('was cancelled'), 'the cancelled status');
    expect(cancelled.components.length).toBe(1);
    expect(buttonId(cancelled, 'Re-roll')).toMatch(/^rv:reroll:/);
    expect(await h.queue.activeForUser('discord', alice.id)).toEqual([]);
  });

  test('an admin may cancel anyone’s job; forged or unknown button ids are refused', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 2, steps: 3, manual: true }) });
    const { fake, admin, alice } = h;
    const job = await startHeldJob(h);

    const forged = fake.pressButton(alice, job.status, 'rv:cancel:../../etc');
    expect(String(((await ephemeralReplyTo(fake, forged.id)).body?.data as { content: string }).content)).toMatch(/no longer valid/);
    const unknown = fake.pressButton(alice, job.status, 'rv:cancel:0b5e2a7c-0000-4000-8000-000000000000');
    expect(String(((await ephemeralReplyTo(fake, unknown.id)).body?.data as { content: string }).content)).toMatch(/can't find/);

    const press = fake.pressButton(admin, job.status, buttonId(job.status, 'Cancel'));
    expect((await ephemeralReplyTo(fake, press.id)).body?.type).toBe(6);
    await waitForMessage(fake, () => fake.originalOf(job.id), (m) => m.content.includes('was cancelled'), 'the cancelled status');
    expect(await h.queue.activeForUser('discord', alice.id)).toEqual([]);
  });

  test('Re-roll and Same seed, longer start new jobs from the stored image; only the owner may press them', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 1 }) });
    const { fake, alice, bob } = h;
    const att = await pngAttachment(fake);
    const first = fake.slash(alice, 'animate', [
      { name: 'image', type: OptionType.Attachment, value: att.id },
      { name: 'prompt', type: OptionType.String, value: 'waves hello' },
      { name: 'seed', type: OptionType.Integer, value: 7 },
      { name: 'seconds', type: OptionType.Number, value: 3 },
    ], [att]);
    const done = await waitForMessage(fake, () => fake.originalOf(first.id), (m) => m.content.includes('is done'), 'job 1 done');

    const stranger = fake.pressButton(bob, done, buttonId(done, 'Re-roll'));
    expect(String(((await ephemeralReplyTo(fake, stranger.id)).body?.data as { content: string }).content)).toMatch(/not your job/i);

    const reroll = fake.pressButton(alice, done, buttonId(done, 'Re-roll'));
    const rerolled = await waitForMessage(fake, () => fake.originalOf(reroll.id), (m) => m.content.includes('is done'), 'the re-roll done');
    expect(rerolled.content).toContain('Prompt: waves hello');
    expect(rerolled.content).toMatch(/3 s/);
    expect(rerolled.content).not.toMatch(/seed 7,/);

    const longer = fake.pressButton(alice, done, buttonId(done, 'Same seed, longer'));
    const longerDone = await waitForMessage(fake, () => fake.originalOf(longer.id), (m) => m.content.includes('is done'), 'the longer job done');
    expect(longerDone.content).toMatch(/seed 7, 6 s/);
  });
});

describe('discord end image', () => {
  test('/animate with end_image queues an end-frame job; Re-roll runs again with the end image', async () => {
    const engine = new FakeEngine({ sections: 1, steps: 1 });
    h = await startHarness({ engine });
    const { fake, alice } = h;
    const att = await pngAttachment(fake);
    const end = await pngAttachment(fake);
    const first = fake.slash(alice, 'animate', [
      { name: 'image', type: OptionType.Attachment, value: att.id },
      { name: 'end_image', type: OptionType.Attachment, value: end.id },
      { name: 'cache', type: OptionType.String, value: 'magcache' },
    ], [att, end]);
    const done = await waitForMessage(fake, () => fake.originalOf(first.id), (m) => m.content.includes('is done'), 'job 1 done');
    expect(done.content).toContain('MagCache');
    expect(engine.calls[0]!.endImagePath).toMatch(/end\.png$/);
    expect(engine.calls[0]!.options.cache).toBe('magcache');

    const reroll = fake.pressButton(alice, done, buttonId(done, 'Re-roll'));
    await waitForMessage(fake, () => fake.originalOf(reroll.id), (m) => m.content.includes('is done'), 'the re-roll done');
    expect(engine.calls).toHaveLength(2);
    expect(engine.calls[1]!.endImagePath).toMatch(/end\.png$/);
    expect(engine.calls[1]!.endImagePath).not.toBe(engine.calls[0]!.endImagePath);
  });
});

describe('discord long jobs', () => {
  test('a job that outlives its 15-minute interaction token continues through channel message edits', async () => {
    let offset = 0;
    h = await startHarness({ engine: new FakeEngine({ sections: 2, steps: 3, manual: true }), now: () => Date.now() + offset });
    const { fake } = h;
    const job = await startHeldJob(h);
    const webhookOk = fake.calls.filter((c) => c.path.startsWith('/webhooks/') && c.method === 'PATCH' && c.status === 200);
    expect(webhookOk.length).toBeGreaterThan(0);
    await fake.quiet(200); // nothing in flight while the clocks jump

    // Sixteen minutes pass for both Discord and the bot.
    fake.advance(16 * 60_000);
    offset += 16 * 60_000;
    const mark = fake.calls.length;
    (h.engine as FakeEngine).releaseAll();

    const final = await waitForMessage(fake, () => fake.messages.get(job.status.id), (m) => m.content.includes('is done'), 'the final status');
    expect(final.attachments.map((a) => a.filename)).toEqual(['recurvid-1.mp4']);
    // The bot knew the token had expired: it never even tried it again.
    expect(fake.calls.slice(mark).filter((c) => c.path.startsWith('/webhooks/'))).toEqual([]);
    const channelEdits = fake.calls.filter((c) => c.method === 'PATCH' && c.path === `/channels/${fake.channelId}/messages/${job.status.id}`);
    expect(channelEdits.length).toBeGreaterThan(0);
    expect(channelEdits.every((c) => c.authorization === `Bot ${fake.expectedToken}`)).toBe(true);
    expect(channelEdits.at(-1)!.status).toBe(200);
    // The new address is stored with the job, for restarts.
    const stored = await h.queue.get((await findJobId(h))!);
    expect(stored?.reply.token).toBe('');
  });

  test('when Discord rejects an expired token the bot falls back to the channel route without losing the final state', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 2, steps: 3, manual: true }) });
    const { fake } = h;
    const job = await startHeldJob(h);
    fake.advance(15 * 60_000); // only Discord's clock: the bot still believes the token is fresh
    (h.engine as FakeEngine).releaseAll();
    const final = await waitForMessage(fake, () => fake.messages.get(job.status.id), (m) => m.content.includes('is done'), 'the final status');
    expect(final.attachments.map((a) => a.filename)).toEqual(['recurvid-1.mp4']);
    const rejected = fake.calls.filter((c) => c.path.startsWith('/webhooks/') && c.status === 401);
    expect(rejected.length).toBeGreaterThan(0);
    // The 401 on a webhook route must not have cost the bot its token: channel edits still work.
    const last = fake.calls.filter((c) => c.path.startsWith('/channels/') && c.method === 'PATCH').at(-1)!;
    expect(last.status).toBe(200);
    expect(String(last.body?.content)).toContain('is done');
  });

  test('after a restart the stored status message says the job was picked up again, and finishes', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 2, steps: 3, manual: true }) });
    const { fake, dataDir } = h;
    const job = await startHeldJob(h);
    // Stop bot and queue mid-job (the job stays 'running' in the store), as on a restart.
    await h.bot.stop();
    await h.queue.close();

    const engine = new FakeEngine({ sections: 2, steps: 3 });
    const store = await openJobStore({ dataDir });
    const log = pino({ level: 'silent' });
    const queue = createJobQueue({ engine, store, config: { dataDir, queueMax: 50, perUser: 3, adminIds: [], retentionHours: 72, retentionMb: 5_000 }, log });
    const bot = createDiscordBot({ token: fake.expectedToken, queue, config: botConfig(), log, clientOptions: { restApi: fake.apiBase }, editIntervalMs: 40 });
    extraCleanups.push(async () => {
      await bot.stop();
      await queue.close();
    });
    // Keep the harness close() from stopping the old ones twice.
    h.bot = { ...h.bot, stop: async () => undefined };
    h.queue = { ...h.queue, close: async () => undefined } as typeof h.queue;
    await queue.start();
    await bot.start();

    const resumedEdit = await fake.waitForCalls((c) => c.method === 'PATCH' && String(c.body?.content ?? '').includes('picked up again after a restart'), {
      what: 'the resumed edit',
    });
    expect(resumedEdit[0]!.status).toBe(200);
    await waitForMessage(fake, () => fake.messages.get(job.status.id), (m) => m.content.includes('is done'), 'the final status after restart');
  });
});

async function findJobId(harness: Harness): Promise<string | undefined> {
  // The job finished; look it up by the status message's Cancel/Re-roll custom id.
  const msg = [...harness.fake.messages.values()].find((m) => m.content.includes('is done'));
  const id = msg && buttonId(msg, 'Re-roll').split(':')[2];
  return id;
}
