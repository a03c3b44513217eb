// Anonymous group admins and channel posts share one placeholder `from`: each sender_chat is its
// own user for limits and ownership.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { senderOf } from '../../../src/bots/telegram/sender.ts';
import type { FakeChat, FakeUser } from '../../fakes/telegram/server.ts';
import { GROUP, makeMedia, startHarness, type Harness, type Media } from './harness.ts';

const ANON: FakeUser = { id: 1087968824, first_name: 'Group', username: 'GroupAnonymousBot' };
const CHANNEL = { id: -1001234567, type: 'channel', title: 'Art channel' } as unknown as FakeChat;

describe('telegram sender', () => {
  it('uses sender_chat when present, from otherwise', () => {
    expect(senderOf({ from: { id: 7, is_bot: false, first_name: 'Ann', username: 'ann' } })).toEqual({ id: '7', name: 'ann' });
    expect(senderOf({ from: { id: 1087968824, is_bot: true, first_name: 'Group' }, sender_chat: { id: -5001, title: 'Animators' } })).toEqual({ id: '-5001', name: 'Animators' });
  });

  describe('in a group', () => {
    let media: Media;
    let h: Harness;
    beforeAll(async () => {
      media = await makeMedia();
      h = await startHarness({ videoPath: media.videoPath, sections: 1, perUser: 1 });
    });
    afterAll(async () => {
      await h?.close();
      await rm(media.dir, { recursive: true, force: true });
    });

    it('an anonymous admin and a channel posting through the same placeholder user are two users with their own limit', async () => {
      const gate = h.engine.holdAt(1);
      try {
        const t0 = h.api.mark();
        for (const as of [GROUP, CHANNEL]) {
          const file = h.api.addFile(media.jpeg);
          h.api.userMessage(ANON, GROUP, { photo: h.api.photoSizes(file), caption: '/animate waves steps=2', sender_chat: as });
          await h.api.waitFor(() => h.api.calls.filter((c) => c.seq >= t0 && c.method === 'sendMessage').length >= (as === GROUP ? 1 : 2), 5000, 'status');
        }
        await h.api.waitFor(() => h.queue.stats().queued + h.queue.stats().running === 2, 5000, 'both jobs admitted');
        const owners = [...(await h.queue.activeForUser('telegram', String(GROUP.id))), ...(await h.queue.activeForUser('telegram', String(CHANNEL.id)))];
        expect(owners).toHaveLength(2);
        expect(await h.queue.activeForUser('telegram', String(ANON.id))).toEqual([]);
      } finally {
        gate.release();
      }
      await h.api.waitFor(() => h.queue.stats().queued === 0 && h.queue.stats().running === 0, 15_000, 'queue empty');
    });
  });
});
