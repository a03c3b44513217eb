// /prompt suggestions: what a waiting suggestion keeps (a small copy of the image), and the prompt
// helper's rate limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import sharp from 'sharp';
import type { PromptHelper, SuggestOptions } from '../../../src/prompting/types.ts';
import type { FakeMessage, RecordedCall } from '../../fakes/telegram/server.ts';
import { ADMIN, ALICE, BOB, DM_ALICE, GROUP, makeMedia, sendPhoto, startHarness, type Harness, type Media } from './harness.ts';

class CountingHelper implements PromptHelper {
  readonly configured = true;
  readonly calls: Array<{ width: number | undefined; variant: number }> = [];
  /** While set, answers wait for it (a request in flight). */
  hold: Promise<void> | undefined;
  async suggest(image: Buffer, opts?: SuggestOptions): Promise<string> {
    this.calls.push({ width: (await sharp(image).metadata()).width, variant: opts?.variant ?? 0 });
    await this.hold;
    return `The subject sways, take ${this.calls.length}.`;
  }
}

let media: Media;
let h: Harness;
let bigPhoto: Buffer;
const helper = new CountingHelper();

beforeAll(async () => {
  media = await makeMedia();
  bigPhoto = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#3060a0', noise: { type: 'gaussian', mean: 128, sigma: 30 } } })
    .jpeg()
    .toBuffer();
  h = await startHarness({
    videoPath: media.videoPath,
    sections: 1,
    promptHelper: helper,
    bot: {
      config: {
        // Two helper requests per person and three per chat in ten minutes.
        PROMPT_HELPER_PER_USER: 2,
        PROMPT_HELPER_PER_PLACE: 3,
        PROMPT_HELPER_WINDOW_S: 600,
      },
    },
  });
});

afterAll(async () => {
  await h?.close();
  await rm(media.dir, { recursive: true, force: true });
});

const isFinal = (c: RecordedCall) => /^Job #\d+ \(/.test(String(c.params.caption));
const button = (m: FakeMessage | undefined, label: string) => {
  const rows = (m?.reply_markup ?? { inline_keyboard: [] }) as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> };
  const found = rows.inline_keyboard.flat().find((b) => b.text === label);
  if (!found) throw new Error(`no button ${label}`);
  return found.callback_data;
};

describe('telegram suggestion store', () => {
  it('keeps a ≤1024 px JPEG copy: the helper saw the upload, the job from the suggestion gets the copy', async () => {
    const t0 = h.api.mark();
    sendPhoto(h, ALICE, DM_ALICE, bigPhoto, '/prompt');
    const offer = await h.api.waitForCall('editMessageText', (c) => String(c.params.text).startsWith('Suggested prompt') && c.seq >= t0);
    expect(helper.calls.at(-1)!.width).toBe(3000);
    const message = h.api.message(DM_ALICE.id, Number(offer.params.message_id))!;

    const t1 = h.api.mark();
    h.api.pressButton(ALICE, message, button(message, 'Animate with this prompt'));
    await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t1, 15_000);
    const meta = await sharp(h.engine.runs.at(-1)!.imagePath).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1024, 683]);
  });
});

describe('telegram prompt helper limits', () => {
  const answerOf = (queryId: string) => h.api.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === queryId);
  const fetchesSince = (t: number) => h.api.calls.filter((c) => c.seq >= t && (c.method === 'getFile' || c.method === 'downloadFile')).length;

  it('"Another suggestion" asks for the next cached alternative; past the per-user limit it is an alert, and /prompt a reply, with no download and no helper call', async () => {
    const t0 = h.api.mark();
    const photo = sendPhoto(h, BOB, GROUP, media.jpeg);
    h.api.userMessage(BOB, GROUP, { text: '/prompt@RecurVidBot', reply_to_message: photo });
    const offer = await h.api.waitForCall('editMessageText', (c) => String(c.params.text).startsWith('Suggested prompt') && c.seq >= t0);
    const message = h.api.message(GROUP.id, Number(offer.params.message_id))!;
    const asked = helper.calls.length;

    const more = await answerOf(h.api.pressButton(BOB, message, button(message, 'Another suggestion')));
    expect(more.params.show_alert).not.toBe(true);
    await h.api.waitFor(() => helper.calls.length === asked + 1 && /Suggested prompt/.test(h.api.message(GROUP.id, message.message_id)?.text ?? ''), 5000, 'second suggestion');
    expect(helper.calls.at(-1)!.variant).toBe(1);

    const refused = await answerOf(h.api.pressButton(BOB, message, button(message, 'Another suggestion')));
    expect(refused.params.show_alert).toBe(true);
    expect(String(refused.params.text)).toMatch(/^You have asked the prompt helper too often\. Please try again in 5 minutes\.$/);

    const t1 = h.api.mark();
    const again = h.api.userMessage(BOB, GROUP, { text: '/prompt@RecurVidBot', reply_to_message: photo });
    const reply = await h.api.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === GROUP.id && c.seq >= t1);
    expect(String(reply.params.text)).toMatch(/^You have asked the prompt helper too often\. Please try again in \d+ minutes?\.$/);
    expect((reply.params.reply_parameters as { message_id: number }).message_id).toBe(again.message_id);
    expect(fetchesSince(t1)).toBe(0);
    expect(helper.calls.length).toBe(asked + 1);
  });

  it('past the per-chat limit, anyone in that chat is told when to try again', async () => {
    const t0 = h.api.mark();
    const photo = sendPhoto(h, ALICE, GROUP, media.jpeg);
    h.api.userMessage(ALICE, GROUP, { text: '/prompt@RecurVidBot', reply_to_message: photo });
    await h.api.waitForCall('editMessageText', (c) => String(c.params.text).startsWith('Suggested prompt') && c.seq >= t0); // the chat's third
    const t1 = h.api.mark();
    h.api.userMessage(ADMIN, GROUP, { text: '/prompt@RecurVidBot', reply_to_message: photo });
    const reply = await h.api.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === GROUP.id && c.seq >= t1);
    expect(String(reply.params.text)).toMatch(/^The prompt helper has been asked too often in this chat\. Please try again in \d+ minutes?\.$/);
    expect(fetchesSince(t1)).toBe(0);
  });

  it('a second "Another suggestion" while one is on its way is an alert, and asks nothing', async () => {
    const DM_ADMIN = { id: ADMIN.id, type: 'private' as const };
    const t0 = h.api.mark();
    sendPhoto(h, ADMIN, DM_ADMIN, media.jpeg, '/prompt');
    const offer = await h.api.waitForCall('editMessageText', (c) => String(c.params.text).startsWith('Suggested prompt') && c.seq >= t0);
    const message = h.api.message(DM_ADMIN.id, Number(offer.params.message_id))!;
    let release!: () => void;
    helper.hold = new Promise<void>((r) => (release = r));
    const asked = helper.calls.length;
    await answerOf(h.api.pressButton(ADMIN, message, button(message, 'Another suggestion')));
    await h.api.waitFor(() => helper.calls.length === asked + 1, 5000, 'the request in flight');
    const busy = await answerOf(h.api.pressButton(ADMIN, message, button(message, 'Another suggestion')));
    expect(busy.params).toMatchObject({ text: 'Still asking for the last one…', show_alert: true });
    helper.hold = undefined;
    release();
    await h.api.waitFor(() => (h.api.message(DM_ADMIN.id, message.message_id)?.text ?? '').includes(`take ${asked + 1}.`), 5000, 'the answer');
    expect(helper.calls.length).toBe(asked + 1);
  });
});
