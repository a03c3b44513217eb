// /prompt suggestions: what a waiting suggestion keeps (a small copy of the image), and the prompt
// helper's rate limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import sharp from 'sharp';
import type { PromptHelper, SuggestOptions } from '../../../src/prompting/types.ts';
import type { FakeMessage, RecordedCall } from '../../fakes/telegram/server.ts';
import { ALICE, DM_ALICE, makeMedia, sendPhoto, startHarness, type Harness, type Media } from './harness.ts';

class CountingHelper implements PromptHelper {
  readonly configured = true;
  readonly calls: Array<{ width: number | undefined; fresh: boolean }> = [];
  async suggest(image: Buffer, opts?: SuggestOptions): Promise<string> {
    this.calls.push({ width: (await sharp(image).metadata()).width, fresh: opts?.fresh ?? false });
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
  h = await startHarness({ videoPath: media.videoPath, sections: 1, promptHelper: helper });
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
