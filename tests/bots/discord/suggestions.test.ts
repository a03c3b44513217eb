// The Discord suggestion store keeps small re-encoded copies of the images, within a byte cap;
// /prompt is rate-limited per user and per server.
import { afterEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { SuggestionStore } from '../../../src/bots/discord/suggestions.ts';
import { countingHelper } from '../../fakes/prompting/counting-helper.ts';
import { OptionType } from '../../fakes/discord/payloads.ts';
import { callback, pngAttachment, startHarness, waitForMessage, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

let made: Promise<Buffer> | undefined;
/** One 3000×2000 noisy PNG (made once: encoding it is the slow part). */
const big = () =>
  (made ??= sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#3060a0', noise: { type: 'gaussian', mean: 128, sigma: 30 } } })
    .png({ compressionLevel: 1 })
    .toBuffer());

describe('discord SuggestionStore', () => {
  it('keeps a ≤1024 px JPEG copy of the image, not the upload', async () => {
    const store = new SuggestionStore();
    const bytes = await big();
    const id = await store.add({ userId: 'u1', image: { bytes, name: 'cat.png', width: 3000, height: 2000 }, prompt: 'p' });
    const kept = store.get(id)!;
    const meta = await sharp(kept.image.bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1024, 683]);
    expect(kept.image).toMatchObject({ name: 'cat.jpg', width: 1024, height: 683 });
    expect(kept.image.bytes.length).toBeLessThan(bytes.length / 4);
    expect(store.bytes).toBe(kept.image.bytes.length);
  });

  it('drops the oldest suggestions once the stored bytes pass the cap', async () => {
    const probe = new SuggestionStore();
    const one = probe.get(await probe.add({ userId: 'u', image: { bytes: await big(), name: 'a.png', width: 3000, height: 2000 }, prompt: 'p' }))!;
    const cap = Math.floor(one.image.bytes.length * 2.5); // room for two copies, not three
    const store = new SuggestionStore(15 * 60_000, 200, () => 0, cap);
    const ids: string[] = [];
    for (const shade of [1, 2, 3]) {
      ids.push(await store.add({ userId: 'u', image: { bytes: await big(), name: 'a.png', width: 3000, height: 2000 }, prompt: `p${shade}` }));
    }
    expect(store.get(ids[0]!)).toBeUndefined();
    expect(store.get(ids[1]!)?.prompt).toBe('p2');
    expect(store.get(ids[2]!)?.prompt).toBe('p3');
    expect(store.bytes).toBeLessThanOrEqual(cap);
  });
});

describe('discord /prompt limits', () => {
  it('past the per-user limit /prompt answers at once with when to try again: no download, no helper call', async () => {
    const helper = countingHelper();
    h = await startHarness({ promptHelper: helper, config: { PROMPT_HELPER_PER_USER: 1, PROMPT_HELPER_PER_PLACE: 10, PROMPT_HELPER_WINDOW_S: 600 } });
    const { fake, alice, bob } = h;
    const first = await pngAttachment(fake, 'first.png');
    const ask = fake.slash(alice, 'prompt', [{ name: 'image', type: OptionType.Attachment, value: first.id }], [first]);
    await waitForMessage(fake, () => fake.originalOf(ask.id), (m) => m.content.includes('Suggested motion prompt'), 'the suggestion');

    const second = await pngAttachment(fake, 'second.png');
    const again = fake.slash(alice, 'prompt', [{ name: 'image', type: OptionType.Attachment, value: second.id }], [second]);
    const [reply] = await fake.waitForCalls(callback(again.id));
    expect(reply!.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(String((reply!.body?.data as { content: string }).content)).toBe('You have asked the prompt helper too often. Please try again in 10 minutes.');
    expect(fake.attachmentDownloads).not.toContain(second.id);
    expect(helper.asked).toBe(1);

    // Another person in the server has their own allowance.
    const bobs = fake.slash(bob, 'prompt', [{ name: 'image', type: OptionType.Attachment, value: second.id }], [second]);
    await waitForMessage(fake, () => fake.originalOf(bobs.id), (m) => m.content.includes('Suggested motion prompt'), 'bob’s suggestion');
    expect(helper.asked).toBe(2);
  });
});
