// Unit tests of the adapter's small pure parts: signed callback data, command parsing, media
// classification, reply targets and file limits.
import { describe, expect, it } from 'vitest';
import type { Message } from 'telegraf/types';
import { CallbackSigner } from '../../../src/bots/telegram/callback-data.ts';
import { parseCommand } from '../../../src/bots/telegram/commands.ts';
import { findImage, NO_IMAGE_MESSAGE } from '../../../src/bots/telegram/media.ts';
import { readReplyTarget, writeReplyTarget } from '../../../src/bots/telegram/reply-target.ts';
import { CLOUD_API_LIMITS, LOCAL_API_LIMITS, limitsFor } from '../../../src/bots/telegram/limits.ts';

const JOB = '3f1c2a9e-7d4b-4c1e-9a57-0b6f1e2d3c4a';

describe('CallbackSigner', () => {
  const signer = new CallbackSigner('123:secret-token');

  it('round-trips every action within Telegram’s 64-byte limit', () => {
    for (const action of ['cancel', 'reroll', 'longer', 'prompt_use', 'prompt_more'] as const) {
      const data = signer.encode({ action, subject: JOB });
      expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
      expect(signer.decode(data)).toEqual({ action, subject: JOB });
    }
  });

  it('rejects tampering, unsigned data and another bot’s signature', () => {
    const data = signer.encode({ action: 'cancel', subject: JOB });
    expect(signer.decode(data.replace('c:', 'r:'))).toBeUndefined();
    expect(signer.decode(`c:${JOB}`)).toBeUndefined();
    expect(signer.decode('garbage')).toBeUndefined();
    expect(new CallbackSigner('456:other-token').decode(data)).toBeUndefined();
    expect(data).not.toContain('secret-token');
  });
});

describe('parseCommand', () => {
  it('reads commands with arguments, in captions and with @BotName', () => {
    expect(parseCommand('/animate a cat seconds=3', 'RecurVidBot')).toEqual({ name: 'animate', args: 'a cat seconds=3' });
    expect(parseCommand('/animate@RecurVidBot  waves', 'RecurVidBot')).toEqual({ name: 'animate', args: 'waves' });
    expect(parseCommand('/ANIMATE@recurvidbot', 'RecurVidBot')).toEqual({ name: 'animate', args: '' });
    expect(parseCommand('/prompt', 'RecurVidBot')).toEqual({ name: 'prompt', args: '' });
  });

  it('ignores other bots’ commands, unknown commands and plain text', () => {
    expect(parseCommand('/animate@OtherBot x', 'RecurVidBot')).toBeUndefined();
    expect(parseCommand('/unknown', 'RecurVidBot')).toBeUndefined();
    expect(parseCommand('please /animate', 'RecurVidBot')).toBeUndefined();
    expect(parseCommand(undefined, 'RecurVidBot')).toBeUndefined();
  });
});

describe('findImage', () => {
  const base = { message_id: 5, date: 0, chat: { id: 1, type: 'private', first_name: 'A' } };
  const photo = [
    { file_id: 'small', file_unique_id: 's', width: 90, height: 90, file_size: 100 },
    { file_id: 'big', file_unique_id: 'b', width: 900, height: 900, file_size: 5000 },
  ];

  it('takes the largest photo size, from the message or the replied-to message', () => {
    const own = findImage({ ...base, photo } as unknown as Message, 20e6);
    expect(own).toMatchObject({ ok: true, image: { fileId: 'big', messageId: 5 } });
    const reply = findImage({ ...base, message_id: 6, text: '/animate', reply_to_message: { ...base, photo } } as unknown as Message, 20e6);
    expect(reply).toMatchObject({ ok: true, image: { fileId: 'big', messageId: 5 } });
  });

  it('refuses missing, oversized and non-still media with a sentence', () => {
    expect(findImage({ ...base, text: '/animate' } as unknown as Message, 20e6)).toEqual({ ok: false, message: NO_IMAGE_MESSAGE });
    expect(findImage({ ...base, photo } as unknown as Message, 1000)).toMatchObject({ ok: false });
    const doc = (mime: string) => ({ ...base, document: { file_id: 'd', file_unique_id: 'd', mime_type: mime, file_name: 'f' } }) as unknown as Message;
    expect(findImage(doc('image/webp'), 20e6).ok).toBe(true);
    expect(findImage(doc('image/gif'), 20e6)).toMatchObject({ ok: false, message: expect.stringMatching(/GIF/) });
    expect(findImage(doc('application/pdf'), 20e6)).toMatchObject({ ok: false, message: expect.stringMatching(/not an image/) });
    expect(findImage({ ...base, sticker: {} } as unknown as Message, 20e6)).toMatchObject({ ok: false, message: expect.stringMatching(/Stickers/) });
  });
});

describe('reply targets and limits', () => {
  it('round-trips the Telegram ids through the queue’s string record', () => {
    const reply = { chatId: -100123, chatType: 'supergroup' as const, statusMessageId: 7, requestMessageId: 6 };
    expect(readReplyTarget(writeReplyTarget(reply))).toEqual({ ...reply, videoMessageId: undefined });
    expect(readReplyTarget({ channelId: '1' })).toBeUndefined();
  });

  it('uses 20/50 MB on the cloud API and 2000 MB on a local Bot API server', () => {
    expect(limitsFor(undefined)).toEqual(CLOUD_API_LIMITS);
    expect(limitsFor('https://api.telegram.org')).toEqual(CLOUD_API_LIMITS);
    expect(limitsFor('http://localhost:8081')).toEqual(LOCAL_API_LIMITS);
    expect(limitsFor(undefined, { maxUploadBytes: 1000 }).maxUploadBytes).toBe(1000);
  });
});
