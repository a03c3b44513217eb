// Telegram adapter latency: time from an update's arrival at the (fake) Bot API to the bot's
// first status message, with 20 users sending /animate photos at the same moment. The real
// telegraf client long-polls a loopback fake; a real queue (SQLite store) takes the jobs, and the
// engine holds the first job so GPU work does not compete with the measurement.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createTelegramBot } from '../src/bots/telegram/index.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createJobQueue, openJobStore } from '../src/queue/index.ts';
import { startFakeBotApi } from '../tests/fakes/telegram/server.ts';
import { GatedEngine } from '../tests/fakes/telegram/gated-engine.ts';
import type { Benchmark, BenchResult } from './types.ts';

const TOKEN = '123456:BENCH-token_abcdefghijklmnopqrstuvwxyz';
const USERS = 20;
const ROUNDS = 5;

export async function suites(): Promise<Benchmark[]> {
  return [
    {
      name: 'telegram-first-status',
      description: `update arrival → first status message, ${USERS} concurrent users × ${ROUNDS} rounds (loopback fake Bot API)`,
      run: measureFirstStatus,
    },
  ];
}

async function measureFirstStatus(): Promise<BenchResult[]> {
  const api = await startFakeBotApi({ token: TOKEN, maxPollSeconds: 1 });
  const dataDir = await mkdtemp(join(tmpdir(), 'tg-bench-'));
  const engine = new GatedEngine({ videoPath: join(dataDir, 'unused.mp4'), sections: 1 });
  engine.holdAt(1);
  const queue = createJobQueue({
    engine,
    store: await openJobStore({ dataDir }),
    config: { dataDir, queueMax: 1000, perUser: 1, adminIds: [], retentionHours: 1, retentionMb: 1000 },
  });
  const bot = createTelegramBot({
    token: TOKEN,
    queue,
    log: createLogger({ LOG_LEVEL: 'silent' }),
    apiRoot: api.apiRoot,
    config: loadConfig({}), // the documented defaults
  });
  const jpeg = await sharp(await readFile('assets/sample.jpg')).resize(640, 480).jpeg().toBuffer();
  const samples: number[] = [];
  try {
    await queue.start();
    await bot.start();
    for (let round = 0; round < ROUNDS; round++) {
      const sentAt = new Map<number, number>();
      for (let u = 0; u < USERS; u++) {
        const id = 10_000 + round * USERS + u;
        const file = api.addFile(jpeg);
        sentAt.set(id, Date.now());
        api.userMessage({ id, first_name: `u${id}` }, { id, type: 'private' }, { photo: api.photoSizes(file), caption: '/animate the scene comes alive' });
      }
      const firsts = await api.waitFor(() => {
        const seen = new Map<number, number>();
        for (const c of api.calls) {
          const chat = Number(c.params.chat_id);
          if (c.method === 'sendMessage' && sentAt.has(chat) && !seen.has(chat)) seen.set(chat, c.at);
        }
        return seen.size === USERS ? seen : undefined;
      }, 30_000, 'all first status messages');
      for (const [chat, at] of firsts) samples.push(at - sentAt.get(chat)!);
    }
  } finally {
    await bot.stop();
    await queue.close();
    await api.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!;
  const note = `${samples.length} samples (${USERS} concurrent users × ${ROUNDS} rounds)`;
  return [
    { name: 'telegram first status p50', value: pct(50), unit: 'ms', note },
    { name: 'telegram first status p99', value: pct(99), unit: 'ms', note },
  ];
}
