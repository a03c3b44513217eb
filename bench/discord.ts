// Discord adapter latency: time from INTERACTION_CREATE leaving the (fake) gateway to the bot's
// deferral, and to the first status edit ("queued"), with 20 users sending /animate at the same
// moment. The real discord.js client talks to the loopback fake Discord; a real queue (SQLite
// store) takes the jobs; the FakeEngine only sleeps, so no GPU work competes with the measurement.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { createDiscordBot } from '../src/bots/discord/index.ts';
import { createJobQueue, openJobStore } from '../src/queue/index.ts';
import { FakeEngine } from '../tests/fakes/engines/fake-engine.ts';
import { FakeDiscord, type RecordedCall } from '../tests/fakes/discord/server.ts';
import { OptionType } from '../tests/fakes/discord/payloads.ts';
import type { Benchmark, BenchResult } from './types.ts';
import { loadConfig } from '../src/config.ts';

const USERS = 20;
const ROUNDS = 5;

export async function suites(): Promise<Benchmark[]> {
  return [
    {
      name: 'discord-interaction-latency',
      description: `INTERACTION_CREATE → deferral and → first status edit, ${USERS} concurrent /animate × ${ROUNDS} rounds after a warm-up round (loopback fake Discord)`,
      run: measure,
    },
  ];
}

async function measure(): Promise<BenchResult[]> {
  const fake = await FakeDiscord.start();
  const dataDir = await mkdtemp(join(tmpdir(), 'discord-bench-'));
  // Jobs take 50 ms of (sleeping) work each: the engine does not compete for the CPU.
  const engine = new FakeEngine({ sections: 1, steps: 1, realTime: true, stepMs: 50 });
  const log = pino({ level: 'silent' });
  const queue = createJobQueue({
    engine,
    store: await openJobStore({ dataDir }),
    config: { dataDir, queueMax: 1000, perUser: 1, adminIds: [], retentionHours: 1, retentionMb: 1000 },
    log,
  });
  const bot = createDiscordBot({
    token: fake.expectedToken,
    queue,
    log,
    clientOptions: { restApi: fake.apiBase },
    config: loadConfig({}), // the documented defaults
  });
  const png = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 200 } } }).png().toBuffer();
  const deferrals: number[] = [];
  const firstEdits: number[] = [];
  // Round 0 is the cold start (lazy module loading, JIT, first image decode): reported apart.
  const coldDeferrals: number[] = [];
  try {
    await queue.start();
    await bot.start();
    for (let round = 0; round <= ROUNDS; round++) {
      const sent: Array<{ id: string; token: string; at: number }> = [];
      for (let i = 0; i < USERS; i++) {
        const user = fake.newUser(`user${round}-${i}`);
        const att = fake.addAttachment('photo.png', png, { contentType: 'image/png', width: 320, height: 240 });
        const at = performance.now();
        const inter = fake.slash(user, 'animate', [{ name: 'image', type: OptionType.Attachment, value: att.id }], [att]);
        sent.push({ ...inter, at });
      }
      for (const s of sent) {
        const [ack] = await fake.waitForCalls((c) => c.method === 'POST' && c.path.startsWith(`/interactions/${s.id}/`), { timeoutMs: 30_000 });
        (round === 0 ? coldDeferrals : deferrals).push(ack!.at - s.at);
        const isEdit = (c: RecordedCall) => c.method === 'PATCH' && c.path === `/webhooks/${fake.appId}/${s.token}/messages/@original`;
        const [edit] = await fake.waitForCalls(isEdit, { timeoutMs: 30_000 });
        if (round > 0) firstEdits.push(edit!.at - s.at);
      }
      // Let the round's jobs finish (50 ms each) before the next burst.
      await waitUntil(() => queue.stats().queued + queue.stats().running === 0);
    }
  } finally {
    await bot.stop();
    await queue.close();
    await engine.close();
    await fake.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const lateAcks = fake.lateAcks.length;
  const note = `${deferrals.length} interactions after a ${USERS}-interaction warm-up; ${lateAcks} answered after Discord's 3 s deadline`;
  return [
    { name: 'deferral p50', value: pct(deferrals, 50), unit: 'ms', note },
    { name: 'deferral p99', value: pct(deferrals, 99), unit: 'ms', target: { value: 250, better: 'lower' } },
    { name: 'deferral p99, cold first burst', value: pct(coldDeferrals, 99), unit: 'ms', note: 'first 20 interactions after start' },
    { name: 'first status edit (queued) p50', value: pct(firstEdits, 50), unit: 'ms' },
    { name: 'first status edit (queued) p99', value: pct(firstEdits, 99), unit: 'ms' },
  ];
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

async function waitUntil(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench: the queue did not drain');
    await new Promise((r) => setTimeout(r, 20));
  }
}
