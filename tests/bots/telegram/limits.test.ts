// Rate limits, upload limits and restarts: a 429 during progress is honoured with its
// retry_after, a result over the upload limit is re-encoded to fit, and a job interrupted by a
// restart edits its stored status message when it resumes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALICE, DM_ALICE, GROUP, makeMedia, sendPhoto, startHarness, type Media } from './harness.ts';
import { startFakeBotApi, type RecordedCall } from '../../fakes/telegram/server.ts';
import { TOKEN } from './harness.ts';
import { createServer, type AddressInfo } from 'node:net';
import { webhookSecret } from '../../../src/bots/telegram/index.ts';

let media: Media;

beforeAll(async () => {
  media = await makeMedia();
});

afterAll(async () => {
  await rm(media.dir, { recursive: true, force: true });
});

const isFinal = (c: RecordedCall) => /^Job #\d+ \(/.test(String(c.params.caption));

describe('telegram rate limits', () => {
  it('a 429 with retry_after during progress pauses that chat for retry_after, then the job finishes', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 2 });
    try {
      const gate = h.engine.holdAt(2);
      const mark = h.api.mark();
      sendPhoto(h, ALICE, GROUP, media.jpeg, '/animate rain falls steps=4');
      await gate.reached;
      h.api.inject('editMessageText', 429, 'Too Many Requests: retry after 1', { retryAfter: 1 });
      gate.release();

      const statusId = h.api.sentMessage(await h.api.waitForCall('sendMessage', (c) => c.seq >= mark)).message_id;
      await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= mark, 20_000);
      await h.api.waitFor(() => /is done/.test(h.api.message(GROUP.id, statusId)?.text ?? ''), 10_000, 'done text');
      const limited = h.api.calls.find((c) => c.seq >= mark && c.errorCode === 429)!;
      expect(limited).toBeDefined();
      // Calls to that chat issued after the 429 (uploads already in flight cannot be recalled).
      const later = h.api.calls.filter((c) => c.seq > limited.seq && c.startedAt > limited.at + 20 && Number(c.params.chat_id) === GROUP.id);
      expect(later.length).toBeGreaterThan(0);
      // None went out before retry_after had passed (small tolerance for timer jitter).
      for (const c of later) expect(c.startedAt - limited.at).toBeGreaterThanOrEqual(990);
      // The refused edit was retried.
      expect(later.some((c) => c.method === 'editMessageText' && c.ok)).toBe(true);
      expect(h.logs.some((l) => l.includes('retry_after'))).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('edits of one status message are throttled to the chat’s interval', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 3, bot: { editIntervals: { privateMs: 250, groupMs: 500 } } });
    try {
      const mark = h.api.mark();
      sendPhoto(h, ALICE, GROUP, media.jpeg, '/animate throttle steps=20');
      await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= mark, 20_000);
      const status = h.api.calls.find((c) => c.seq >= mark && c.method === 'sendMessage')!;
      const statusId = h.api.sentMessage(status).message_id;
      const edits = h.api.calls.filter((c) => c.method === 'editMessageText' && Number(c.params.message_id) === statusId);
      // 60 step events, but only a few edits, none closer than the group interval except the final one.
      expect(edits.length).toBeLessThan(20);
      for (let i = 1; i < edits.length - 1; i++) expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThanOrEqual(490);
      // No edit repeats the text already shown.
      for (let i = 1; i < edits.length; i++) expect(edits[i]!.params.text !== edits[i - 1]!.params.text || JSON.stringify(edits[i]!.params.reply_markup) !== JSON.stringify(edits[i - 1]!.params.reply_markup)).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('telegram upload limit', () => {
  it('a result over the upload limit is re-encoded to fit (limit injected small)', async () => {
    const bigSize = (await stat(media.bigVideoPath)).size;
    const limit = Math.floor(bigSize / 3);
    const h = await startHarness({ videoPath: media.bigVideoPath, sections: 1, bot: { fileLimits: { maxUploadBytes: limit } } });
    try {
      const mark = h.api.mark();
      sendPhoto(h, ALICE, DM_ALICE, media.jpeg, '/animate noise seconds=2');
      const final = await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= mark, 40_000);
      expect(final.files[0]!.bytes.length).toBeLessThanOrEqual(limit);
      expect(final.files[0]!.bytes.length).toBeGreaterThan(0);
      expect(String(final.params.caption)).toMatch(/Re-encoded to [\d.]+ MB to fit/);
      // Previews over the limit are skipped rather than re-encoded.
      expect(h.api.calls.filter((c) => c.seq >= mark && c.method === 'sendVideo' && !isFinal(c))).toHaveLength(0);
    } finally {
      await h.close();
    }
  });
});

describe('telegram restart', () => {
  it('a job interrupted by a restart edits its stored status message when it resumes, then finishes', async () => {
    const api = await startFakeBotApi({ token: TOKEN, botUsername: 'RecurVidBot', maxPollSeconds: 1 });
    const dataDir = await mkdtemp(join(tmpdir(), 'tg-restart-'));
    try {
      const first = await startHarness({ videoPath: media.videoPath, sections: 1, api, dataDir });
      const gate = first.engine.holdAt(2);
      const mark = api.mark();
      sendPhoto(first, ALICE, DM_ALICE, media.jpeg, '/animate survives restarts steps=3');
      await gate.reached;
      const status = api.calls.find((c) => c.seq >= mark && c.method === 'sendMessage')!;
      const statusId = api.sentMessage(status).message_id;
      await first.close();

      const second = await startHarness({ videoPath: media.videoPath, sections: 1, api, dataDir });
      try {
        await api.waitForCall('editMessageText', (c) => Number(c.params.message_id) === statusId && /after a restart/.test(String(c.params.text)), 10_000);
        const final = await api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= mark, 20_000);
        expect(final.params.caption).toContain('Prompt: survives restarts');
        await api.waitFor(() => /is done/.test(api.message(DM_ALICE.id, statusId)?.text ?? ''), 5000, 'done');
        expect(second.engine.runs).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      await api.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('telegram webhook mode', () => {
  it('with TELEGRAM_WEBHOOK_URL it registers a webhook with a secret and answers updates posted to it', async () => {
    const port = await freePort();
    const h = await startHarness({
      videoPath: media.videoPath,
      bot: {
        webhookHost: '127.0.0.1',
        config: {
          TELEGRAM_API_ROOT: undefined,
          TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/tg-hook',
          TELEGRAM_WEBHOOK_PORT: port,
          TELEGRAM_ALLOWED_CHAT_IDS: [],
          MAX_SECONDS: 120,
          MAX_STEPS: 100,
          DEFAULT_SECONDS: 5,
          DEFAULT_STEPS: 3,
        },
      },
    });
    try {
      expect(h.api.webhook).toEqual({ url: 'https://bot.example.com/tg-hook', secret_token: webhookSecret(TOKEN) });
      expect(h.api.callsOf('getUpdates')).toHaveLength(0);
      const post = (secret: string, update_id: number) =>
        fetch(`http://127.0.0.1:${port}/tg-hook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
          body: JSON.stringify({ update_id, message: { message_id: 77, date: 0, chat: DM_ALICE, from: ALICE, text: '/help', entities: [{ type: 'bot_command', offset: 0, length: 5 }] } }),
        });
      expect((await post('wrong-secret', 1)).status).toBe(403);
      expect((await post(webhookSecret(TOKEN), 2)).status).toBe(200);
      const reply = await h.api.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === DM_ALICE.id);
      expect(String(reply.params.text)).toContain('I animate still images');
      expect(h.api.callsOf('sendMessage')).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
