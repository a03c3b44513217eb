// Queue limits are checked before any costly work: a user at their job limit is refused with the
// queue's own sentence before the attachment is downloaded or the prompt helper is asked.
import { afterEach, describe, expect, test } from 'vitest';
import { FakeEngine } from '../../fakes/engines/fake-engine.ts';
import { makeMessage, OptionType, type FakeAttachment } from '../../fakes/discord/payloads.ts';
import type { PromptHelper } from '../../../src/prompting/types.ts';
import { callback, pngAttachment, startHarness, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const imageOption = (att: FakeAttachment) => [{ name: 'image', type: OptionType.Attachment, value: att.id }];

function countingHelper(): PromptHelper & { asked: number } {
  return {
    configured: true,
    asked: 0,
    async suggest() {
      this.asked += 1;
      return 'The cat blinks.';
    },
  };
}

describe('discord admission before downloads', () => {
  test('/animate by a user at the limit: the queue sentence, no download, no helper call', async () => {
    const helper = countingHelper();
    h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 2, manual: true }), perUser: 1, promptHelper: helper });
    const { fake, alice } = h;
    const first = await pngAttachment(fake, 'first.png');
    fake.slash(alice, 'animate', [...imageOption(first), { name: 'prompt', type: OptionType.String, value: 'waves' }], [first]);
    await (h.engine as FakeEngine).waitForHeld();

    const second = await pngAttachment(fake, 'second.png');
    const inter = fake.slash(alice, 'animate', imageOption(second), [second]);
    const isFollowUp = (c: { method: string; path: string }) => c.method === 'POST' && c.path === `/webhooks/${fake.appId}/${inter.token}`;
    await fake.waitForCalls(callback(inter.id));
    const [followUp] = await fake.waitForCalls(isFollowUp, { what: 'the refusal' });
    expect(String(followUp!.body?.content)).toMatch(/^You already have a job running \(#1\)\. Cancel it or wait\.$/);
    expect(fake.attachmentDownloads).not.toContain(second.id);
    expect(helper.asked).toBe(0);
    (h.engine as FakeEngine).releaseAll();
  });

  test('a mention by a user at the limit: refused before the image is fetched', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 2, manual: true }), perUser: 1 });
    const { fake, alice } = h;
    const first = await pngAttachment(fake, 'first.png');
    fake.slash(alice, 'animate', [...imageOption(first), { name: 'prompt', type: OptionType.String, value: 'waves' }], [first]);
    await (h.engine as FakeEngine).waitForHeld();

    const second = await pngAttachment(fake, 'second.png');
    fake.sendMessage(
      makeMessage({
        channel_id: fake.channelId,
        guild_id: fake.guildId,
        author: alice,
        content: `<@${fake.botUser.id}> the sea`,
        mentions: [fake.botUser],
        attachments: [second],
      }),
    );
    const edited = (c: { method: string; path: string; body?: Record<string, unknown> }) =>
      c.method === 'PATCH' && c.path.startsWith(`/channels/${fake.channelId}/messages/`) && /You already have a job running/.test(String(c.body?.content));
    await fake.waitForCalls(edited, { what: 'the refusal edit' });
    expect(fake.attachmentDownloads).not.toContain(second.id);
    (h.engine as FakeEngine).releaseAll();
  });
});
