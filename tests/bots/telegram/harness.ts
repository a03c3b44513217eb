// End-to-end harness: the real telegraf bot against the loopback fake Bot API, a real job queue
// (SQLite store in a temp dir) and the gated test engine. Each test file starts and stops its own.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { createLogger } from '../../../src/log.ts';
import { createJobQueue, openJobStore } from '../../../src/queue/index.ts';
import type { JobQueue } from '../../../src/queue/types.ts';
import type { PromptHelper } from '../../../src/prompting/types.ts';
import { resolveFfmpeg } from '../../../src/util/ffmpeg.ts';
import { createTelegramBot, type TelegramBot, type TelegramBotOptions } from '../../../src/bots/telegram/index.ts';
import { startFakeBotApi, type FakeBotApi, type FakeChat, type FakeUser } from '../../fakes/telegram/server.ts';
import { GatedEngine } from '../../fakes/telegram/gated-engine.ts';

export const TOKEN = '123456:TEST-token_abcdefghijklmnopqrstuvwxyz';
export const ADMIN: FakeUser = { id: 900, first_name: 'Admin', username: 'admin' };
export const ALICE: FakeUser = { id: 101, first_name: 'Alice', username: 'alice' };
export const BOB: FakeUser = { id: 102, first_name: 'Bob', username: 'bob' };
export const DM_ALICE: FakeChat = { id: 101, type: 'private' };
export const DM_BOB: FakeChat = { id: 102, type: 'private' };
export const GROUP: FakeChat = { id: -5001, type: 'supergroup', title: 'Animators' };

export interface Media {
  jpeg: Buffer;
  png: Buffer;
  gif: Buffer;
  corruptJpeg: Buffer;
  /** A small real H.264 mp4 (the engine's section videos are copies of it). */
  videoPath: string;
  /** A larger mp4, to exceed a small upload limit. */
  bigVideoPath: string;
  dir: string;
}

const run = promisify(execFile);

/** Makes the test images and videos once per file. */
export async function makeMedia(): Promise<Media> {
  const dir = await mkdtemp(join(tmpdir(), 'tg-media-'));
  const jpeg = await sharp(await readFile('assets/sample.jpg')).resize(320, 240).jpeg().toBuffer();
  const png = await sharp({ create: { width: 200, height: 160, channels: 3, background: { r: 10, g: 120, b: 200 } } }).png().toBuffer();
  const gif = await sharp(jpeg).gif().toBuffer();
  const corruptJpeg = jpeg.subarray(0, Math.floor(jpeg.length / 3));
  const ffmpeg = (await resolveFfmpeg()).path;
  const videoPath = join(dir, 'small.mp4');
  const bigVideoPath = join(dir, 'big.mp4');
  await run(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=96x96:rate=10', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', videoPath]);
  // Noise compresses badly: a few hundred KB in 2 s, far over the tests' small upload limit.
  await run(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'nullsrc=size=256x256:rate=15,geq=random(1)*255:128:128', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '5', '-pix_fmt', 'yuv420p', bigVideoPath]);
  return { jpeg, png, gif, corruptJpeg, videoPath, bigVideoPath, dir };
}

/** The bot settings every harness starts from; `bot.config` adds to them. */
export const HARNESS_CONFIG: TelegramBotOptions['config'] = {
  TELEGRAM_API_ROOT: undefined,
  TELEGRAM_WEBHOOK_URL: undefined,
  TELEGRAM_WEBHOOK_PORT: 8443,
  TELEGRAM_ALLOWED_CHAT_IDS: [],
  MAX_SECONDS: 120,
  MAX_STEPS: 100,
  DEFAULT_SECONDS: 5,
  DEFAULT_STEPS: 3,
};

export interface Harness {
  api: FakeBotApi;
  queue: JobQueue;
  engine: GatedEngine;
  bot: TelegramBot;
  logs: string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  videoPath: string;
  sections?: number;
  promptHelper?: PromptHelper;
  /** Bot options; `config` names only the settings that differ from HARNESS_CONFIG. */
  bot?: Partial<Omit<TelegramBotOptions, 'config'>> & { config?: Partial<TelegramBotOptions['config']> };
  perUser?: number;
  /** Admin identities (default: the ADMIN user on Telegram). */
  adminIds?: string[];
  /** Reuse a running fake (a restart test); it is then left running on close. */
  api?: FakeBotApi;
  /** Reuse a data dir (a restart test); it is then kept on close. */
  dataDir?: string;
}

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const api = opts.api ?? (await startFakeBotApi({ token: TOKEN, botUsername: 'RecurVidBot', maxPollSeconds: 1 }));
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'tg-e2e-')));
  const engine = new GatedEngine({ videoPath: opts.videoPath, sections: opts.sections ?? 2 });
  const store = await openJobStore({ dataDir });
  const queue = createJobQueue({
    engine,
    store,
    config: { dataDir, queueMax: 50, perUser: opts.perUser ?? 3, adminIds: opts.adminIds ?? [`telegram:${ADMIN.id}`], retentionHours: 72, retentionMb: 5000 },
  });
  const logs: string[] = [];
  const log = createLogger({ LOG_LEVEL: 'debug', TELEGRAM_TOKEN: TOKEN }, { write: (line: string) => void logs.push(line) });
  const bot = createTelegramBot({
    token: TOKEN,
    queue,
    log,
    promptHelper: opts.promptHelper,
    apiRoot: api.apiRoot,
    ...opts.bot,
    // A test names only the settings it changes.
    config: { ...HARNESS_CONFIG, ...opts.bot?.config },
    editIntervals: { privateMs: 100, groupMs: 200 },
    // Telegram's real per-chat budgets would make these end-to-end tests wait minutes; the budget
    // itself is tested on manual timers (chat-budget.test.ts).
    chatBudget: { private: { burst: 1000, refillMs: 1 }, group: { burst: 1000, refillMs: 1 } },
    ...(opts.bot?.chatBudget && { chatBudget: opts.bot.chatBudget }),
    ...(opts.bot?.editIntervals && { editIntervals: opts.bot.editIntervals }),
  });
  // The bot subscribes when created, so it sees `resumed` events from queue.start().
  await queue.start();
  await bot.start();
  return {
    api,
    queue,
    engine,
    bot,
    logs,
    async close() {
      await bot.stop();
      await queue.close();
      if (!opts.api) await api.stop();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sends a photo with a caption from `from` in `chat`; returns the user's message. */
export function sendPhoto(h: Harness, from: FakeUser, chat: FakeChat, bytes: Buffer, caption?: string) {
  const file = h.api.addFile(bytes);
  return h.api.userMessage(from, chat, { photo: h.api.photoSizes(file), ...(caption !== undefined ? { caption } : {}) });
}

/** Text of the bot's messages in a chat, in order, as they are now. */
export function botTexts(h: Harness, chatId: number): string[] {
  return [...(h.api.messages.get(chatId)?.values() ?? [])].filter((m) => m.from?.id === h.api.bot.id).map((m) => m.text ?? m.caption ?? '');
}
