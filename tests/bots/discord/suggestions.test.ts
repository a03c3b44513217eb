// The Discord suggestion store keeps small re-encoded copies of the images, within a byte cap.
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { SuggestionStore } from '../../../src/bots/discord/suggestions.ts';

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
