// End-to-end harness: the real discord.js client (through createDiscordBot) against the loopback
// fake Discord, with the real job queue on a temp data dir and the FakeEngine.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { createDiscordBot, type DiscordBot, type DiscordBotConfig } from '../../../src/bots/discord/index.ts';
import type { ImageLimits } from '../../../src/bots/common/image.ts';
import type { Engine } from '../../../src/engine/types.ts';
import { FakeEngine } from '../../fakes/engines/fake-engine.ts';
import { createJobQueue } from '../../../src/queue/job-queue.ts';
import { openJobStore } from '../../../src/queue/store.ts';
import type { JobQueue } from '../../../src/queue/types.ts';
import type { Logger } from '../../../src/log.ts';
import type { PromptHelper } from '../../../src/prompting/types.ts';
import { FakeDiscord, type RecordedCall } from '../../fakes/discord/server.ts';
import type { FakeMessage, FakeUser } from '../../fakes/discord/payloads.ts';

export interface HarnessOptions {
  engine?: Engine;
  config?: Partial<DiscordBotConfig>;
  promptHelper?: PromptHelper;
  now?: () => number;
  editIntervalMs?: number;
  imageLimits?: ImageLimits;
  perUser?: number;
  /** Where the bot logs (silent when omitted). */
  log?: Logger;
  /** Pauses between attempts of a final status edit. */
  retryDelaysMs?: readonly number[];
  /** Caps for the fake's own server (DISCORD_GUILD_LIMITS), whose id is only known once it runs. */
  guildLimits?: { maxSeconds: number; maxSteps: number };
}

export interface Harness {
  fake: FakeDiscord;
  queue: JobQueue;
  bot: DiscordBot;
  engine: Engine;
  alice: FakeUser;
  bob: FakeUser;
  admin: FakeUser;
  dataDir: string;
  close(): Promise<void>;
}

export const silentLog = pino({ level: 'silent' });

export function botConfig(over: Partial<DiscordBotConfig> = {}): DiscordBotConfig {
  return {
    DISCORD_GUILD_IDS: [],
    DISCORD_CHANNEL_IDS: [],
    DISCORD_ALLOW_DMS: true,
    DISCORD_GUILD_LIMITS: {},
    ADMIN_USER_IDS: [],
    MAX_SECONDS: 120,
    MAX_STEPS: 100,
    DEFAULT_SECONDS: 5,
    DEFAULT_STEPS: 25,
    ...over,
  };
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const fake = await FakeDiscord.start();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'recurvid-discord-'));
  const alice = fake.newUser('alice');
  const bob = fake.newUser('bob');
  const admin = fake.newUser('admin');
  const config = botConfig({
    ADMIN_USER_IDS: [`discord:${admin.id}`],
    ...opts.config,
    // The fake server's caps join any given in config (such as the dm entry).
    ...(opts.guildLimits ? { DISCORD_GUILD_LIMITS: { ...opts.config?.DISCORD_GUILD_LIMITS, [fake.guildId]: opts.guildLimits } } : {}),
  });
  const store = await openJobStore({ dataDir });
  const engine = opts.engine ?? new FakeEngine({ sections: 2, steps: 3 });
  const queue = createJobQueue({
    engine,
    store,
    config: { dataDir, queueMax: 50, perUser: opts.perUser ?? 3, adminIds: config.ADMIN_USER_IDS, retentionHours: 72, retentionMb: 5_000 },
    log: silentLog,
  });
  const bot = createDiscordBot({
    token: fake.expectedToken,
    queue,
    config,
    log: opts.log ?? silentLog,
    clientOptions: { restApi: fake.apiBase },
    ...(opts.retryDelaysMs ? { retryDelaysMs: opts.retryDelaysMs } : {}),
    editIntervalMs: opts.editIntervalMs ?? 40,
    previewIntervalMs: 0,
    ...(opts.promptHelper ? { promptHelper: opts.promptHelper } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.imageLimits ? { imageLimits: opts.imageLimits } : {}),
  });
  await queue.start();
  await bot.start();
  return {
    fake,
    queue,
    bot,
    engine,
    alice,
    bob,
    admin,
    dataDir,
    async close() {
      await bot.stop();
      await queue.close();
      await engine.close();
      await fake.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let png: Promise<Buffer> | undefined;
/** A real 160×120 PNG with some texture. */
export function testPng(): Promise<Buffer> {
  png ??= sharp({ create: { width: 160, height: 120, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .png()
    .toBuffer();
  return png;
}

export async function pngAttachment(fake: FakeDiscord, name = 'cat.png') {
  const bytes = await testPng();
  return fake.addAttachment(name, bytes, { contentType: 'image/png', width: 160, height: 120 });
}

/** Webhook edits of one interaction's original response. */
export function originalEdits(fake: FakeDiscord, token: string) {
  return (c: RecordedCall) => c.method === 'PATCH' && c.path === `/webhooks/${fake.appId}/${token}/messages/@original`;
}

export function callback(id: string) {
  return (c: RecordedCall) => c.method === 'POST' && c.path.startsWith(`/interactions/${id}/`);
}

/** Waits until a stored message satisfies the predicate. */
export async function waitForMessage(
  fake: FakeDiscord,
  find: () => FakeMessage | undefined,
  predicate: (m: FakeMessage) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<FakeMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = find();
    if (m && predicate(m)) return m;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last content: ${JSON.stringify(m?.content)}\ncalls:\n  ${fake.calls.map((c) => `${c.method} ${c.path} ${c.status}`).join('\n  ')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function optionsOf(pairs: Record<string, string | number | boolean>, types: Record<string, number>) {
  return Object.entries(pairs).map(([name, value]) => ({ name, value, type: types[name] ?? 3 }));
}
