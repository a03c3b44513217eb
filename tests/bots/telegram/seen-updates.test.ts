// Seen update ids: remembered for a day, then really gone from the SQLite store (Keyv drops an
// expired row only when it is read again, and an update id is never read again); updates from
// chats outside the allow-list write nothing.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import { SeenUpdates } from '../../../src/bots/telegram/seen-updates.ts';
import { ALICE, BOB, DM_ALICE, makeMedia, startHarness, type Media } from './harness.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seen-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rowKeys(file: string): Promise<string[]> {
  const raw = new KeyvSqlite({ uri: `sqlite://${file}` });
  const rows = (await raw.query('SELECT key FROM keyv')) as Array<{ key: string }>;
  await raw.disconnect();
  return rows.map((r) => r.key).sort();
}

describe('seen updates', () => {
  it('expired update ids leave the SQLite file at the next sweep; live ones and settings stay', async () => {
    const file = join(dir, 'store.sqlite');
    const store = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file}` }), namespace: 'telegram' });
    await store.set('tg:settings:42', { seconds: 3 });
    let now = 1_000_000;
    const seen = new SeenUpdates(store, { ttlMs: 30, sweepEveryMs: 60_000, now: () => now });
    const sweeps = vi.spyOn(seen, 'sweep');
    expect(await seen.firstTime(0)).toBe(true); // the first update after a start sweeps…
    expect(sweeps).toHaveBeenCalledTimes(1);
    await seen.sweep(); // …(waited for here, so it cannot meet the rows below)
    for (let id = 1; id <= 20; id++) expect(await seen.firstTime(id)).toBe(true);
    expect(await seen.firstTime(5)).toBe(false);
    expect(sweeps).toHaveBeenCalledTimes(2); // then only once per interval
    await new Promise((r) => setTimeout(r, 60)); // the 20 rows' TTL passes (Keyv compares wall time)
    const early = (k: string) => /tg:update:([1-9]|1\d|20)$/.test(k);
    expect((await rowKeys(file)).filter(early)).toHaveLength(20); // expired, yet still in the file
    now += 61_000; // the sweep interval passes: the next first-time update sweeps in the background
    expect(await seen.firstTime(21)).toBe(true);
    expect(sweeps).toHaveBeenCalledTimes(3);
    await seen.sweep();
    // A live row (a long TTL, so no machine is slow enough to see it expire) survives a sweep.
    const live = new SeenUpdates(store, { ttlMs: 3_600_000, sweepEveryMs: 60_000, now: () => now });
    expect(await live.firstTime(100)).toBe(true);
    await live.sweep();
    const keys = await rowKeys(file);
    expect(keys.filter(early)).toEqual([]); // the 20 expired rows are gone
    expect(keys).toEqual(expect.arrayContaining(['telegram:tg:settings:42', 'telegram:tg:update:100']));
    await store.disconnect();
  });

  it('updates from chats outside TELEGRAM_ALLOWED_CHAT_IDS write no seen-update row', async () => {
    const media: Media = await makeMedia();
    const map = new Map<string, unknown>();
    const h = await startHarness({
      videoPath: media.videoPath,
      bot: {
        settingsStore: new Keyv({ store: map }),
        config: {
          TELEGRAM_API_ROOT: undefined, TELEGRAM_WEBHOOK_URL: undefined, TELEGRAM_WEBHOOK_PORT: 8443,
          TELEGRAM_ALLOWED_CHAT_IDS: [String(DM_ALICE.id)], MAX_SECONDS: 120, MAX_STEPS: 100, DEFAULT_SECONDS: 5, DEFAULT_STEPS: 3,
        },
      },
    });
    try {
      const t = h.api.mark();
      h.api.userMessage(BOB, { id: BOB.id, type: 'private' }, { text: '/help' });
      const allowed = h.api.userMessage(ALICE, DM_ALICE, { text: '/help' });
      await h.api.waitForCall('sendMessage', (c) => c.seq >= t && (c.params.reply_parameters as { message_id?: number })?.message_id === allowed.message_id);
      const keys = [...map.keys()].filter((k) => k.includes('tg:update:'));
      expect(keys).toHaveLength(1); // Alice's update only
      expect(h.api.calls.some((c) => c.seq >= t && c.method === 'sendMessage' && Number(c.params.chat_id) === BOB.id)).toBe(false);
    } finally {
      await h.close();
      await rm(media.dir, { recursive: true, force: true });
    }
  });
});
