// Bad input and places the bot must not serve: each gets a clear ephemeral answer and nothing is
// queued.
import { afterEach, describe, expect, test } from 'vitest';
import sharp from 'sharp';
import { FakeEngine } from '../../fakes/engines/fake-engine.ts';
import { OptionType } from '../../fakes/discord/payloads.ts';
import type { FakeAttachment } from '../../fakes/discord/payloads.ts';
import type { FakeDiscord, RecordedCall } from '../../fakes/discord/server.ts';
import { callback, pngAttachment, startHarness, testPng, type Harness, type HarnessOptions } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const imageOption = (att: FakeAttachment) => [{ name: 'image', type: OptionType.Attachment, value: att.id }];

/** The text of the ephemeral answer, whether given at once or as a follow-up after a deferral. */
async function ephemeralAnswer(fake: FakeDiscord, inter: { id: string; token: string }): Promise<{ text: string; deferred: boolean }> {
  const [first] = await fake.waitForCalls(callback(inter.id), { what: 'the interaction response' });
  if (first!.body?.type === 4) {
    expect((first!.body.data as { flags: number }).flags & 64).toBe(64);
    return { text: String((first!.body.data as { content: string }).content), deferred: false };
  }
  expect(first!.body?.type).toBe(5);
  const isFollowUp = (c: RecordedCall) => c.method === 'POST' && c.path === `/webhooks/${fake.appId}/${inter.token}`;
  const [followUp] = await fake.waitForCalls(isFollowUp, { what: 'the ephemeral follow-up' });
  expect(Number(followUp!.body?.flags) & 64).toBe(64);
  // The public "thinking…" reply was removed.
  await fake.waitForCalls((c) => c.method === 'DELETE' && c.path === `/webhooks/${fake.appId}/${inter.token}/messages/@original`);
  return { text: String(followUp!.body?.content), deferred: true };
}

async function expectRefused(opts: HarnessOptions, send: (h: Harness) => Promise<{ id: string; token: string }>, pattern: RegExp) {
  h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 1 }), ...opts });
  const inter = await send(h);
  const answer = await ephemeralAnswer(h.fake, inter);
  expect(answer.text).toMatch(pattern);
  expect(h.queue.stats()).toEqual({ queued: 0, running: 0 });
  expect((h.engine as FakeEngine).calls).toHaveLength(0);
  return answer;
}

describe('discord bad input', () => {
  test('no image at all', async () => {
    await expectRefused({}, async ({ fake, alice }) => fake.slash(alice, 'animate', []), /I need an image/);
  });

  test('a file that is not an image (by its content type) is refused before any download', async () => {
    const answer = await expectRefused(
      {},
      async ({ fake, alice }) => {
        const att = fake.addAttachment('notes.txt', Buffer.from('hello'), { contentType: 'text/plain' });
        return fake.slash(alice, 'animate', imageOption(att), [att]);
      },
      /not an image/,
    );
    expect(answer.deferred).toBe(false);
  });

  test('a file that claims to be a PNG but is not one', async () => {
    const answer = await expectRefused(
      {},
      async ({ fake, alice }) => {
        const att = fake.addAttachment('cat.png', Buffer.from('definitely not a png'), { contentType: 'image/png' });
        return fake.slash(alice, 'animate', imageOption(att), [att]);
      },
      /not an image I can read/,
    );
    expect(answer.deferred).toBe(true);
  });

  test('too many bytes (announced by Discord) is refused at once', async () => {
    const answer = await expectRefused(
      {},
      async ({ fake, alice }) => {
        const att = fake.addAttachment('huge.png', await testPng(), { contentType: 'image/png', size: 30 * 1024 * 1024 });
        return fake.slash(alice, 'animate', imageOption(att), [att]);
      },
      /30 MB; the limit is 20 MB/,
    );
    expect(answer.deferred).toBe(false);
  });

  test('a server cap (DISCORD_GUILD_LIMITS) stricter than the global one', async () => {
    await expectRefused(
      { guildLimits: { maxSeconds: 3, maxSteps: 10 } },
      async ({ fake, alice }) => {
        const att = await pngAttachment(fake);
        return fake.slash(alice, 'animate', [...imageOption(att), { name: 'seconds', type: OptionType.Number, value: 10 }], [att]);
      },
      /seconds.*1.*3/i,
    );
    await h?.close();
    // Within the server's caps it runs, and /help shows those caps, not the global 120 s / 100 steps.
    h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 1 }), guildLimits: { maxSeconds: 3, maxSteps: 10 } });
    const att = await pngAttachment(h.fake);
    h.fake.slash(h.alice, 'animate', [...imageOption(att), { name: 'seconds', type: OptionType.Number, value: 3 }], [att]);
    await (h.engine as FakeEngine).waitForRuns(1);
    expect((h.engine as FakeEngine).calls[0]!.options.seconds).toBe(3);
    const help = await ephemeralAnswer(h.fake, h.fake.slash(h.alice, 'help'));
    expect(help.text).toContain('seconds 1–3');
    expect(help.text).toContain('steps 1–10');
  });

  test('a DM gets the dm entry of DISCORD_GUILD_LIMITS, the server its own entry', async () => {
    h = await startHarness({
      engine: new FakeEngine({ sections: 1, steps: 1 }),
      config: { DISCORD_GUILD_LIMITS: { dm: { maxSeconds: 3, maxSteps: 10 } } },
      guildLimits: { maxSeconds: 60, maxSteps: 50 },
    });
    const att = await pngAttachment(h.fake);
    const tooLong = [...imageOption(att), { name: 'seconds', type: OptionType.Number, value: 10 }];
    expect((await ephemeralAnswer(h.fake, h.fake.slash(h.alice, 'animate', tooLong, [att], { dm: true }))).text).toMatch(/seconds.*1.*3/i);
    expect(h.queue.stats()).toEqual({ queued: 0, running: 0 });
    const dmHelp = (await ephemeralAnswer(h.fake, h.fake.slash(h.alice, 'help', [], [], { dm: true }))).text;
    expect(dmHelp).toContain('seconds 1–3');
    expect(dmHelp).toContain('steps 1–10');
    const serverHelp = (await ephemeralAnswer(h.fake, h.fake.slash(h.alice, 'help'))).text;
    expect(serverHelp).toContain('seconds 1–60');
    expect(serverHelp).toContain('steps 1–50');
  });

  test('too many pixels', async () => {
    await expectRefused(
      { imageLimits: { maxBytes: 20 * 1024 * 1024, maxPixels: 10_000 } },
      async ({ fake, alice }) => {
        const att = await pngAttachment(fake);
        return fake.slash(alice, 'animate', imageOption(att), [att]);
      },
      /160×120 .*limit/,
    );
  });

  test('an animated image', async () => {
    await expectRefused(
      {},
      async ({ fake, alice }) => {
        const frame = (r: number) => sharp({ create: { width: 96, height: 96, channels: 3, background: { r, g: 0, b: 0 } } }).png().toBuffer();
        const gif = await sharp([await frame(10), await frame(200)], { join: { animated: true } }).gif().toBuffer();
        const att = fake.addAttachment('anim.gif', gif, { contentType: 'image/gif' });
        return fake.slash(alice, 'animate', imageOption(att), [att]);
      },
      /animated/,
    );
  });

  test('a failed download', async () => {
    await expectRefused(
      {},
      async ({ fake, alice }) => {
        const att = await pngAttachment(fake);
        fake.attachmentBytes.delete(att.id); // the CDN answers 404
        return fake.slash(alice, 'animate', imageOption(att), [att]);
      },
      /could not get that image.*HTTP 404/,
    );
  });

  test('a message command on a message without an image', async () => {
    await expectRefused(
      {},
      async ({ fake, alice }) => fake.messageCommand(alice, 'Animate image', fake.addUserMessage(alice, { content: 'just text' })),
      /I need an image/,
    );
  });

  test('a queue refusal (one job per user) is an ephemeral answer too', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 2, manual: true }), perUser: 1 });
    const { fake, alice } = h;
    const att = await pngAttachment(fake);
    fake.slash(alice, 'animate', imageOption(att), [att]);
    await (h.engine as FakeEngine).waitForHeld();
    const second = fake.slash(alice, 'animate', imageOption(att), [att]);
    const answer = await ephemeralAnswer(fake, second);
    expect(answer.text).toMatch(/You already have a job running \(#1\)/);
    expect(h.queue.stats()).toEqual({ queued: 0, running: 1 });
    (h.engine as FakeEngine).releaseAll();
  });
});

describe('discord allowlists', () => {
  test('a guild outside DISCORD_GUILD_IDS is refused', async () => {
    await expectRefused(
      { config: { DISCORD_GUILD_IDS: ['1300000000000000001'] } },
      async ({ fake, alice }) => {
        const att = await pngAttachment(fake);
        return fake.slash(alice, 'animate', imageOption(att), [att]);
      },
      /not enabled in this place/,
    );
  });

  test('a channel outside DISCORD_CHANNEL_IDS is refused', async () => {
    await expectRefused(
      { config: { DISCORD_CHANNEL_IDS: ['1300000000000000002'] } },
      async ({ fake, alice }) => {
        const att = await pngAttachment(fake);
        return fake.slash(alice, 'animate', imageOption(att), [att]);
      },
      /not enabled in this place/,
    );
  });

  test('DMs are refused when DISCORD_ALLOW_DMS is off, and served when on', async () => {
    await expectRefused(
      { config: { DISCORD_ALLOW_DMS: false } },
      async ({ fake, alice }) => {
        const att = await pngAttachment(fake);
        return fake.slash(alice, 'animate', imageOption(att), [att], { dm: true });
      },
      /not enabled in this place/,
    );
    await h!.close();
    h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 1 }) });
    const att = await pngAttachment(h.fake);
    const inter = h.fake.slash(h.alice, 'animate', imageOption(att), [att], { dm: true });
    const [ack] = await h.fake.waitForCalls(callback(inter.id));
    expect(ack!.body?.type).toBe(5);
  });
});
