// Where Telegram users put an end image: a photo captioned /animate replying to the start photo, or
// an album of two (start, end). Albums arrive one message per photo; MediaGroups waits for the rest.
import { describe, expect, it } from 'vitest';
import type { Message } from 'telegraf/types';
import { findStartAndEnd } from '../../../src/bots/telegram/media.ts';
import { albumImages, groupIdOf, MediaGroups } from '../../../src/bots/telegram/media-group.ts';

const chat = { id: 1, type: 'private' as const, first_name: 'A' };
function photoMessage(id: number, fileId: string, extra: Record<string, unknown> = {}): Message {
  return { message_id: id, date: 0, chat, photo: [{ file_id: fileId, file_unique_id: `u-${fileId}`, width: 64, height: 64, file_size: 1000 }], ...extra } as unknown as Message;
}

describe('end image from a reply with a second photo', () => {
  it('replied photo is the start, the captioned photo the end', () => {
    const start = photoMessage(1, 'start');
    const found = findStartAndEnd(photoMessage(2, 'end', { caption: '/animate', reply_to_message: start }), 1e6);
    expect(found.start).toMatchObject({ ok: true, image: { fileId: 'start' } });
    expect(found.end).toMatchObject({ ok: true, image: { fileId: 'end' } });
  });

  it('a text /animate replying to a photo has no end image', () => {
    const found = findStartAndEnd({ message_id: 3, date: 0, chat, text: '/animate', reply_to_message: photoMessage(1, 'start') } as unknown as Message, 1e6);
    expect(found.start).toMatchObject({ ok: true, image: { fileId: 'start' } });
    expect(found.end).toBeUndefined();
  });
});

describe('albums', () => {
  it('waits for the rest of the album and orders it by message id', async () => {
    const groups = new MediaGroups(50);
    const first = photoMessage(10, 'a', { media_group_id: 'g1', caption: '/animate' });
    groups.remember(first);
    setTimeout(() => groups.remember(photoMessage(11, 'b', { media_group_id: 'g1' })), 20);
    const album = await groups.collect(groupIdOf(first)!);
    expect(album.map((m) => m.message_id)).toEqual([10, 11]);
    const images = albumImages(album, 1e6);
    expect(images).toMatchObject({ ok: true, start: { ok: true, image: { fileId: 'a' } }, end: { ok: true, image: { fileId: 'b' } } });
  });

  it('an album of three is refused with a sentence', () => {
    const msgs = [1, 2, 3].map((i) => photoMessage(i, `p${i}`, { media_group_id: 'g' }));
    expect(albumImages(msgs, 1e6)).toEqual({ ok: false, message: expect.stringMatching(/exactly two images, the start then the end frame \(this one has 3\)/) });
  });
});
