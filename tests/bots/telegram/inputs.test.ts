// Bad input gets a clear sentence and queues nothing; option errors are listed; a re-delivered
// update does not queue twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { ALICE, DM_ALICE, makeMedia, sendPhoto, startHarness, type Harness, type Media } from './harness.ts';
import type { FakeMessage } from '../../fakes/telegram/server.ts';

let media: Media;
let h: Harness;

beforeAll(async () => {
  media = await makeMedia();
  h = await startHarness({ videoPath: media.videoPath, sections: 1 });
});

afterAll(async () => {
  await h?.close();
  await rm(media.dir, { recursive: true, force: true });
});

/** Sends a message and waits for the bot's answer to it (a direct reply or the status message edited). */
async function answerTo(fields: Partial<FakeMessage>): Promise<string> {
  const t0 = h.api.mark();
  const msg = h.api.userMessage(ALICE, DM_ALICE, fields);
  const direct = await h.api.waitForCall(
    'sendMessage',
    (c) => (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === msg.message_id && c.seq >= t0,
  );
  const text = String(direct.params.text);
  if (!text.startsWith('Got it')) return text;
  // The status message went out first; the refusal is its next edit.
  const statusId = h.api.sentMessage(direct).message_id;
  const edit = await h.api.waitForCall('editMessageText', (c) => Number(c.params.message_id) === statusId);
  return String(edit.params.text);
}

function document(bytes: Buffer, mime: string, name: string, reportedSize?: number, announce = true): Partial<FakeMessage> {
  const file = h.api.addFile(bytes, { reportedSize });
  return {
    document: { file_id: file.file_id, file_unique_id: file.file_unique_id, file_name: name, mime_type: mime, ...(announce ? { file_size: file.file_size } : {}) },
  };
}

async function expectNothingQueued(): Promise<void> {
  expect(h.engine.runs).toHaveLength(0);
  expect(await h.queue.activeForUser('telegram', String(ALICE.id))).toHaveLength(0);
}

describe('telegram bad input', () => {
  it('no photo at all', async () => {
    expect(await answerTo({ text: '/animate a dog runs' })).toMatch(/I need a photo/);
    await expectNothingQueued();
  });

  it('a file that is not an image', async () => {
    expect(await answerTo({ ...document(Buffer.from('hello'), 'text/plain', 'notes.txt'), caption: '/animate' })).toMatch(/notes\.txt.*not an image/);
    await expectNothingQueued();
  });

  it('an image document whose bytes are not an image', async () => {
    expect(await answerTo({ ...document(Buffer.from('not really a png'), 'image/png', 'fake.png'), caption: '/animate' })).toMatch(/not an image I can read/);
    await expectNothingQueued();
  });

  it('a photo over the 20 MB download limit (announced size): refused before getFile', async () => {
    const getFiles = h.api.callsOf('getFile').length;
    const file = h.api.addFile(media.jpeg, { reportedSize: 25 * 1024 * 1024 });
    const text = await answerTo({ photo: h.api.photoSizes(file), caption: '/animate' });
    expect(text).toMatch(/25 MB.*up to 20 MB/);
    expect(h.api.callsOf('getFile').length).toBe(getFiles);
    await expectNothingQueued();
  });

  it('a document over the limit without an announced size: getFile refuses, clear message', async () => {
    const text = await answerTo({ ...document(media.jpeg, 'image/jpeg', 'huge.jpg', 30 * 1024 * 1024, false), caption: '/animate' });
    expect(text).toMatch(/too big.*20 MB/);
    await expectNothingQueued();
  });

  it('a corrupt image', async () => {
    expect(await answerTo({ ...document(media.corruptJpeg, 'image/jpeg', 'broken.jpg'), caption: '/animate' })).toMatch(/damaged|not an image/);
    await expectNothingQueued();
  });

  it('a sticker, a GIF animation and a GIF document', async () => {
    const sticker = { file_id: 'S1', file_unique_id: 'S1u', type: 'regular', width: 512, height: 512, is_animated: false, is_video: false };
    const photo = h.api.userMessage(ALICE, DM_ALICE, { sticker });
    expect(await answerTo({ text: '/animate', reply_to_message: photo })).toMatch(/Stickers cannot be animated/);
    const animation = { file_id: 'A1', file_unique_id: 'A1u', width: 100, height: 100, duration: 2 };
    expect(await answerTo({ animation, caption: '/animate' } as Partial<FakeMessage>)).toMatch(/animation \(GIF\)/);
    expect(await answerTo({ ...document(media.gif, 'image/gif', 'loop.gif'), caption: '/animate' })).toMatch(/GIF/);
    await expectNothingQueued();
  });

  it('option errors are listed, unknown options reported, nothing queued', async () => {
    const text = await answerTo({ photo: h.api.photoSizes(h.api.addFile(media.jpeg)), caption: '/animate sea seconds=500 speed=2 --steps x' });
    expect(text).toMatch(/Unknown option 'speed'/);
    expect(text).toMatch(/seconds must be .* from 1 to 120/);
    expect(text).toMatch(/steps must be a number/);
    await expectNothingQueued();
  });
});

describe('telegram idempotency', () => {
  it('a re-delivered update does not queue twice', async () => {
    const t0 = h.api.mark();
    const msg = sendPhoto(h, ALICE, DM_ALICE, media.jpeg, '/animate once only');
    await h.api.waitForCall('sendVideo', (c) => /^Job #\d+ \(/.test(String(c.params.caption)) && c.seq >= t0, 20_000);
    // Find the update that carried this message and deliver it again.
    const sent = h.api.pushedUpdates.find((u) => (u.message as FakeMessage | undefined)?.message_id === msg.message_id);
    expect(sent).toBeDefined();
    h.api.redeliver(sent!);
    await h.api.waitFor(() => h.logs.some((l) => l.includes('duplicate update ignored') && l.includes(String(sent!.update_id))), 5000, 'duplicate log');
    // Give a wrongly-accepted duplicate time to show up before counting.
    await new Promise((r) => setTimeout(r, 300));
    const statuses = h.api.callsOf('sendMessage').filter((c) => (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === msg.message_id);
    expect(statuses).toHaveLength(1);
    expect(h.engine.runs).toHaveLength(1);
  });
});
