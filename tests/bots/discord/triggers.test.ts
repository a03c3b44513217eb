// The other ways in: a mention replying to an image, the two message commands, /prompt with its
// buttons and modal, /queue and /help.
import { afterEach, describe, expect, test } from 'vitest';
import { FakeEngine } from '../../fakes/engines/fake-engine.ts';
import { DEFAULT_MOTION_PROMPT, type PromptHelper } from '../../../src/prompting/types.ts';
import { makeMessage, OptionType, type FakeMessage } from '../../fakes/discord/payloads.ts';
import type { FakeDiscord, RecordedCall } from '../../fakes/discord/server.ts';
import { callback, pngAttachment, startHarness, waitForMessage, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const SUGGESTION = 'The cat turns its head slowly and blinks.';
function fakeHelper(): PromptHelper & { asked: number } {
  return {
    configured: true,
    asked: 0,
    async suggest(image: Buffer) {
      this.asked += 1;
      if (image.length === 0) throw new Error('no image');
      return SUGGESTION;
    },
  };
}

async function imageMessage(fake: FakeDiscord, author = fake.newUser('carol')): Promise<FakeMessage> {
  return fake.addUserMessage(author, { attachments: [await pngAttachment(fake)] });
}

function buttonId(message: FakeMessage | { components?: unknown }, label: string): string {
  const rows = (message.components ?? []) as Array<{ components: Array<{ label: string; custom_id: string }> }>;
  const button = rows.flatMap((r) => r.components).find((b) => b.label === label);
  if (!button) throw new Error(`no button '${label}'`);
  return button.custom_id;
}

const channelPosts = (fake: FakeDiscord) => (c: RecordedCall) => c.method === 'POST' && c.path === `/channels/${fake.channelId}/messages`;

describe('discord mention replies', () => {
  test('"@RecurVid <prompt>" replying to an image animates that image with the prompt and options', async () => {
    h = await startHarness();
    const { fake, alice } = h;
    const img = await imageMessage(fake);
    fake.sendMessage(
      makeMessage({
        channel_id: fake.channelId,
        guild_id: fake.guildId,
        author: alice,
        content: `<@${fake.botUser.id}> the girl dances gracefully seconds=3`,
        mentions: [fake.botUser],
        type: 19,
        message_reference: { type: 0, message_id: img.id, channel_id: fake.channelId, guild_id: fake.guildId },
        referenced_message: img,
      }),
    );
    const [post] = await fake.waitForCalls(channelPosts(fake), { what: 'the status reply' });
    expect((post!.body?.message_reference as { message_id: string }).message_id).toBeDefined();
    expect(post!.body?.allowed_mentions).toMatchObject({ parse: [] });
    const statusId = [...fake.messages.values()].find((m) => m.author.id === fake.botUser.id && m.type === 19)!.id;
    const final = await waitForMessage(fake, () => fake.messages.get(statusId), (m) => m.content.includes('is done'), 'the final status');
    expect(final.content).toContain('Prompt: the girl dances gracefully');
    expect(final.content).toMatch(/\b3 s\b/);
    expect(final.attachments.map((a) => a.filename)).toEqual(['recurvid-1.mp4']);
    // Regular bot messages: every edit used the bot token on the channel route.
    const edits = fake.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/messages/${statusId}`));
    expect(edits.length).toBeGreaterThan(1);
    expect(edits.every((c) => c.path.startsWith('/channels/'))).toBe(true);
  });

  test('a replied-to message without a visible image gets a pointer to the app command; no mention, no reaction', async () => {
    h = await startHarness();
    const { fake, alice } = h;
    const plain = fake.addUserMessage(fake.newUser('carol'), { content: '' });
    fake.sendMessage(makeMessage({ channel_id: fake.channelId, guild_id: fake.guildId, author: alice, content: 'nice picture', attachments: [] }));
    fake.sendMessage(
      makeMessage({
        channel_id: fake.channelId,
        guild_id: fake.guildId,
        author: alice,
        content: `<@${fake.botUser.id}> make it move`,
        mentions: [fake.botUser],
        type: 19,
        message_reference: { message_id: plain.id, channel_id: fake.channelId, guild_id: fake.guildId },
        referenced_message: plain,
      }),
    );
    const [reply] = await fake.waitForCalls(channelPosts(fake), { what: 'the hint' });
    expect(String(reply!.body?.content)).toMatch(/Animate image/);
    expect(fake.calls.filter(channelPosts(fake))).toHaveLength(1); // the un-mentioned message got nothing
    expect(h.queue.stats()).toEqual({ queued: 0, running: 0 });
  });
});

describe('discord message commands', () => {
  test('"Animate image" animates the target message’s image with the default prompt when no helper is set', async () => {
    h = await startHarness();
    const { fake, alice } = h;
    const img = await imageMessage(fake);
    const inter = fake.messageCommand(alice, 'Animate image', img);
    const final = await waitForMessage(fake, () => fake.originalOf(inter.id), (m) => m.content.includes('is done'), 'the final status');
    expect(final.content).toContain(DEFAULT_MOTION_PROMPT);
    expect(final.content).toMatch(/no prompt helper is configured/);
  });

  test('"Suggest motion prompt" shows the suggestion privately; "Animate with this prompt" runs it; strangers are refused', async () => {
    const helper = fakeHelper();
    h = await startHarness({ promptHelper: helper });
    const { fake, alice, bob } = h;
    const img = await imageMessage(fake);
    const ask = fake.messageCommand(alice, 'Suggest motion prompt', img);
    const [ack] = await fake.waitForCalls(callback(ask.id), { what: 'the deferral' });
    expect(ack!.body).toMatchObject({ type: 5, data: { flags: 64 } });
    const suggestion = await waitForMessage(fake, () => fake.originalOf(ask.id), (m) => m.content.includes('Suggested motion prompt'), 'the suggestion');
    expect(suggestion.content).toContain(SUGGESTION);
    expect(helper.asked).toBe(1);

    const stranger = fake.pressButton(bob, suggestion, buttonId(suggestion, 'Animate with this prompt'));
    const [refused] = await fake.waitForCalls(callback(stranger.id));
    expect(String((refused!.body?.data as { content: string }).content)).toMatch(/belongs to someone else/);

    const use = fake.pressButton(alice, suggestion, buttonId(suggestion, 'Animate with this prompt'));
    const final = await waitForMessage(fake, () => fake.originalOf(use.id), (m) => m.content.includes('is done'), 'the final status');
    expect(final.content).toContain(`Prompt: ${SUGGESTION}`);
    expect(final.content).toMatch(/suggested by the prompt helper/);
  });
});

describe('discord /prompt', () => {
  test('/prompt → Edit first opens a prefilled modal; submitting it animates with the edited prompt', async () => {
    h = await startHarness({ promptHelper: fakeHelper() });
    const { fake, alice } = h;
    const att = await pngAttachment(fake);
    const ask = fake.slash(alice, 'prompt', [{ name: 'image', type: OptionType.Attachment, value: att.id }], [att]);
    const suggestion = await waitForMessage(fake, () => fake.originalOf(ask.id), (m) => m.content.includes('Suggested motion prompt'), 'the suggestion');

    const edit = fake.pressButton(alice, suggestion, buttonId(suggestion, 'Edit first'));
    const [modal] = await fake.waitForCalls(callback(edit.id), { what: 'the modal' });
    expect(modal!.body?.type).toBe(9);
    const data = modal!.body?.data as { custom_id: string; components: Array<{ components: Array<{ custom_id: string; value: string }> }> };
    const field = data.components[0]!.components[0]!;
    expect(field.value).toBe(SUGGESTION);

    const submit = fake.submitModal(alice, data.custom_id, { [field.custom_id]: 'The cat jumps *high*' });
    const final = await waitForMessage(fake, () => fake.originalOf(submit.id), (m) => m.content.includes('is done'), 'the final status');
    expect(final.content).toContain('Prompt: The cat jumps \\*high\\*');
  });

  test('/prompt without a configured helper says so at once', async () => {
    h = await startHarness();
    const { fake, alice } = h;
    const att = await pngAttachment(fake);
    const ask = fake.slash(alice, 'prompt', [{ name: 'image', type: OptionType.Attachment, value: att.id }], [att]);
    const [reply] = await fake.waitForCalls(callback(ask.id));
    expect(reply!.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(String((reply!.body?.data as { content: string }).content)).toMatch(/not configured/);
  });
});

describe('discord /queue and /help', () => {
  test('/queue lists your jobs and the queue length; /help explains the commands', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 2, steps: 3, manual: true }) });
    const { fake, alice } = h;
    const att = await pngAttachment(fake);
    fake.slash(alice, 'animate', [{ name: 'image', type: OptionType.Attachment, value: att.id }], [att]);
    await (h.engine as FakeEngine).waitForHeld();
    const q = fake.slash(alice, 'queue');
    const [queueReply] = await fake.waitForCalls(callback(q.id));
    expect(queueReply!.body).toMatchObject({ type: 4, data: { flags: 64 } });
    const text = String((queueReply!.body?.data as { content: string }).content);
    expect(text).toContain('Queue: 1 running, 0 waiting.');
    expect(text).toMatch(/#1: running/);

    const help = fake.slash(alice, 'help');
    const [helpReply] = await fake.waitForCalls(callback(help.id));
    expect(String((helpReply!.body?.data as { content: string }).content)).toMatch(/\/animate[\s\S]*Animate image[\s\S]*\/prompt/);
    (h.engine as FakeEngine).releaseAll();
  });
});
