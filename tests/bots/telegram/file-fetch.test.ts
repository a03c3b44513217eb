// Telegram file fetching against a fake self-hosted Bot API server: absolute file paths are read
// from disk (no file:// URL with the API host, which Node refuses), optionally moved by
// TELEGRAM_LOCAL_FILES_MAP; the byte cap and the timeout apply to local reads and HTTP alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Telegraf } from 'telegraf';
import { fetchTelegramFile, localFilePath, readLocalLimited } from '../../../src/bots/telegram/file-fetch.ts';
import { FakeLocalBotApi } from '../../fakes/telegram/local-bot-api.ts';
import type { ImageRef } from '../../../src/bots/telegram/media.ts';

const TOKEN = '123456:LOCALTEST';
const api = new FakeLocalBotApi();
let dir: string;
let telegram: Telegraf['telegram'];
const ref = (fileId: string): ImageRef => ({ fileId, fileUniqueId: `u-${fileId}`, fileName: 'photo.jpg', messageId: 1 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tg-local-'));
  await mkdir(join(dir, TOKEN, 'photos'), { recursive: true });
  await writeFile(join(dir, TOKEN, 'photos', 'file_1.jpg'), Buffer.alloc(1000, 5));
  await writeFile(join(dir, TOKEN, 'photos', 'big.jpg'), Buffer.alloc(5000, 1));
  const root = await api.start();
  telegram = new Telegraf(TOKEN, { telegram: { apiRoot: root } }).telegram;
});

afterAll(async () => {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('fetchTelegramFile with a local Bot API server', () => {
  it('reads an absolute file_path from disk (telegraf would hand out file://127.0.0.1/…)', async () => {
    api.paths.set('abs', join(dir, TOKEN, 'photos', 'file_1.jpg'));
    const bytes = await fetchTelegramFile({ telegram, maxDownloadBytes: 20_000 }, ref('abs'));
    expect(bytes.length).toBe(1000);
    expect(bytes[999]).toBe(5);
  });

  it('moves the path with TELEGRAM_LOCAL_FILES_MAP when the server runs in another container', async () => {
    api.paths.set('mapped', `/var/lib/telegram-bot-api/${TOKEN}/photos/file_1.jpg`);
    const bytes = await fetchTelegramFile(
      { telegram, maxDownloadBytes: 20_000, localFiles: { server: '/var/lib/telegram-bot-api', local: dir } },
      ref('mapped'),
    );
    expect(bytes.length).toBe(1000);
  });

  it('refuses a path outside the mapped folder instead of reading it', async () => {
    api.paths.set('escape', '/var/lib/telegram-bot-api/../../../etc/passwd');
    await expect(
      fetchTelegramFile({ telegram, maxDownloadBytes: 20_000, localFiles: { server: '/var/lib/telegram-bot-api', local: dir } }, ref('escape')),
    ).rejects.toMatchObject({ code: 'network', message: expect.stringContaining('TELEGRAM_LOCAL_FILES_MAP') });
  });

  it('applies the download cap to local files (local mode would otherwise allow 2000 MB in memory)', async () => {
    api.paths.set('big', join(dir, TOKEN, 'photos', 'big.jpg'));
    await expect(fetchTelegramFile({ telegram, maxDownloadBytes: 4096 }, ref('big'))).rejects.toMatchObject({ code: 'too_large' });
  });

  it('still downloads relative paths over HTTP, with the timeout', async () => {
    api.paths.set('rel', 'photos/file_2.jpg');
    api.served.set('photos/file_2.jpg', Buffer.alloc(300, 9));
    expect((await fetchTelegramFile({ telegram, maxDownloadBytes: 20_000, downloadTimeoutMs: 5_000 }, ref('rel'))).length).toBe(300);
    api.paths.set('stall', 'photos/stalls.jpg');
    await expect(fetchTelegramFile({ telegram, maxDownloadBytes: 20_000, downloadTimeoutMs: 100 }, ref('stall'))).rejects.toMatchObject({ code: 'timeout' });
  }, 10_000);
});

describe('local file helpers', () => {
  it('localFilePath keeps an unmapped path and maps a path under the server folder', () => {
    expect(localFilePath('/data/tg/x/../a.jpg', undefined)).toBe('/data/tg/a.jpg');
    expect(localFilePath('/var/lib/telegram-bot-api/T/photos/a.jpg', { server: '/var/lib/telegram-bot-api/', local: '/srv/tg' })).toBe('/srv/tg/T/photos/a.jpg');
    expect(() => localFilePath('/var/lib/telegram-bot-api-other/a.jpg', { server: '/var/lib/telegram-bot-api', local: '/srv/tg' })).toThrow(/outside/);
  });

  it('readLocalLimited reads a file at the cap, refuses one over it, reports a missing one', async () => {
    expect((await readLocalLimited(join(dir, TOKEN, 'photos', 'file_1.jpg'), 1000)).length).toBe(1000);
    await expect(readLocalLimited(join(dir, TOKEN, 'photos', 'file_1.jpg'), 999)).rejects.toMatchObject({ code: 'too_large' });
    await expect(readLocalLimited(join(dir, 'nope.jpg'), 1000)).rejects.toMatchObject({ code: 'network' });
  });
});
