// Issue 14, scale-out, end to end: a real redis-server on loopback, one bot process (`recurvid start`
// with QUEUE_BACKEND=bullmq, discord.js against the fake Discord) and two GPU worker processes
// (`recurvid worker`, the real tiny FramePack engine), each its own OS process with its own data
// dir; nothing shares files. Six jobs from three users run on both workers in fair order; one worker
// is SIGKILLed right after a section and its job finishes on the other from the checkpoint, with
// the frames of an uninterrupted run; cancel and re-roll from Discord reach the workers; every job
// ends exactly once and every finished video is delivered exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { QueueEvents } from 'bullmq';
import { createFramePackEngine } from '../../src/engine/framepack.ts';
import { makeTinyModelSet } from '../../src/engine/conversion/tiny.ts';
import { QUEUE_NAME, type GpuProgress } from '../../src/queue/bullmq/protocol.ts';
import { openJobStore, type JobStore } from '../../src/queue/store.ts';
import { resolveFfmpeg } from '../../src/util/ffmpeg.ts';
import { FakeDiscord } from '../fakes/discord/server.ts';
import { OptionType, type FakeMessage, type FakeUser } from '../fakes/discord/payloads.ts';
import { startRedis, type RedisServer } from '../queue/redis-server.ts';

const run = promisify(execFile);

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Proc {
  child: ChildProcess;
  lines: string[];
  exited: Promise<void>;
}

/** Starts `recurvid <command>` as its own OS process and resolves once `readyLine` is logged. */
async function recurvid(command: 'start' | 'worker', env: Record<string, string>, readyLine: string): Promise<Proc> {
  const child = spawn(process.execPath, ['bin/recurvid.mjs', command], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (line.includes(readyLine)) ready();
    });
  }
  await Promise.race([
    isReady,
    exited.then(() => Promise.reject(new Error(`recurvid ${command} exited early:\n${lines.join('\n')}`))),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`recurvid ${command} not ready:\n${lines.join('\n')}`)), 90_000)),
  ]);
  return { child, lines, exited };
}

async function decodeFrames(path: string): Promise<Buffer> {
  const ff = (await resolveFfmpeg()).path;
  const { stdout } = await run(ff, ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 1 << 28 });
  return stdout;
}

describe('scale-out: one bot process, two GPU worker processes, BullMQ on a real Redis', () => {
  let root: string;
  let redis: RedisServer;
  let discord: FakeDiscord;
  let store: JobStore;
  let events: QueueEvents;
  const procs: Proc[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rv-scale-'));
    redis = await startRedis();
    discord = await FakeDiscord.start();
    // The model set is deployed to every GPU machine; here both workers read one copy.
    await makeTinyModelSet(join(root, 'models', 'tiny'));
    store = await openJobStore({ dataDir: join(root, 'observer'), redisUrl: redis.url });
    events = new QueueEvents(QUEUE_NAME, { connection: { url: redis.url } });
    await events.waitUntilReady();
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }
    await events?.close();
    await store?.close();
    await discord?.close();
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('runs 6 jobs from 3 users fairly on both workers, survives a SIGKILLed worker, cancels and re-rolls', async () => {
    const common = { REDIS_URL: redis.url, QUEUE_BACKEND: 'bullmq', LOG_LEVEL: 'info', MODELS_DIR: join(root, 'models'), MODEL_SET: 'tiny' };
    const bot = await recurvid('start', {
      ...common,
      DATA_DIR: join(root, 'bot'),
      DISCORD_TOKEN: discord.expectedToken,
      DISCORD_API_BASE: discord.apiBase,
      QUEUE_PER_USER: '2',
    }, 'RecurVid is running');
    procs.push(bot);

    // Everything the workers do, as BullMQ reports it to any observer.
    const firstActive: string[] = [];
    const sampledAfterKill = new Map<string, Set<number>>();
    const workersSeen = new Set<string>();
    let killed: { jobId: string } | undefined;
    let workerA: Proc | undefined;
    events.on('active', ({ jobId }) => {
      if (!firstActive.includes(jobId)) firstActive.push(jobId);
    });
    events.on('progress', ({ jobId, data }) => {
      const p = data as unknown as GpuProgress;
      workersSeen.add(p.worker);
      if (killed?.jobId === jobId && p.event.type === 'step') sampledAfterKill.get(jobId)!.add(p.event.section);
      // Kill gpu-a the moment its first job has finished (and checkpointed) section 1.
      if (!killed && workerA && p.worker === 'gpu-a' && p.event.type === 'section' && p.event.section === 1) {
        killed = { jobId };
        sampledAfterKill.set(jobId, new Set());
        workerA.child.kill('SIGKILL');
      }
    });

    // Six /animate commands from three users, queued before any GPU is there.
    const image = await sharp(await readFile('assets/sample.jpg')).resize(96, 64).png().toBuffer();
    const users: Record<string, FakeUser> = { alice: discord.newUser('alice'), bob: discord.newUser('bob'), carol: discord.newUser('carol') };
    const animate = (who: string, seed: number) => {
      const att = discord.addAttachment(`${who}.png`, image, { contentType: 'image/png', width: 96, height: 64 });
      return discord.slash(users[who]!, 'animate', [
        { name: 'image', type: OptionType.Attachment, value: att.id },
        { name: 'prompt', type: OptionType.String, value: `${who} waves` },
        { name: 'seconds', type: OptionType.Number, value: 2 }, // 2 sections at window 9
        { name: 'steps', type: OptionType.Integer, value: 2 },
        { name: 'seed', type: OptionType.Integer, value: seed },
      ], [att]);
    };
    const order = ['a1', 'b1', 'c1', 'a2', 'b2', 'c2'];
    const interactions: Record<string, string> = {};
    for (const [i, key] of [['alice', 'a1'], ['alice', 'a2'], ['bob', 'b1'], ['bob', 'b2'], ['carol', 'c1'], ['carol', 'c2']].entries()) {
      interactions[key[1]!] = animate(key[0]!, 100 + i).id;
      await until(() => jobIdOf(interactions[key[1]!]!) !== undefined, `job ${key[1]} is queued`);
    }
    const jobs = Object.fromEntries(order.map((k) => [k, jobIdOf(interactions[k]!)!]));

    const workerEnv = (name: string) => ({ ...common, DATA_DIR: join(root, name), WORKER_NAME: name, WORKER_LOCK_MS: '2000' });
    workerA = await recurvid('worker', workerEnv('gpu-a'), 'GPU worker is taking jobs');
    procs.push(workerA);
    const workerB = await recurvid('worker', workerEnv('gpu-b'), 'GPU worker is taking jobs');
    procs.push(workerB);

    // Carol's second job is cancelled from Discord as soon as a worker runs it.
    await until(() => firstActive.includes(jobs.c2!), 'c2 runs on a worker', 180_000);
    discord.pressButton(users.carol!, discord.originalOf(interactions.c2!)!, `rv:cancel:${jobs.c2}`);
    // Alice re-rolls her first video once it is done.
    await until(async () => (await store.getJob(jobs.a1!))?.state === 'done', 'a1 is done', 180_000);
    const reroll = discord.pressButton(users.alice!, discord.originalOf(interactions.a1!)!, `rv:reroll:${jobs.a1}`);
    await until(() => jobIdOf(reroll.id) !== undefined, 'the re-roll is queued');
    const rerollJob = jobIdOf(reroll.id)!;

    const finished = [...Object.values(jobs), rerollJob];
    await until(async () => (await Promise.all(finished.map((id) => store.getJob(id)))).every((r) => r && ['done', 'failed', 'cancelled'].includes(r.state)), 'every job ends', 240_000);
    await discord.quiet(500, 30_000);

    // Fairness: first starts follow (round, seq) — every user's first job before anyone's second.
    expect(firstActive.filter((id) => order.some((k) => jobs[k] === id))).toEqual(order.map((k) => jobs[k]));
    expect([...workersSeen].sort()).toEqual(['gpu-a', 'gpu-b']);

    // The killed worker's job resumed on the other one from its checkpoint (section 1 not redone).
    expect(killed).toBeDefined();
    expect(workerA.child.signalCode).toBe('SIGKILL');
    const resumed = (await store.getJob(killed!.jobId))!;
    expect(resumed.state).toBe('done');
    expect(resumed.resumes).toBe(1);
    expect([...sampledAfterKill.get(killed!.jobId)!]).toEqual([2]);
    // The user was told in the job's status message.
    const killedInteraction = Object.entries(jobs).find(([, id]) => id === killed!.jobId)![0];
    expect(statusTexts(interactions[killedInteraction]!).some((t) => t.includes('on another GPU'))).toBe(true);
    // …and its frames equal those of an uninterrupted run of the same job.
    const engine = await createFramePackEngine({ modelDir: join(root, 'models', 'tiny'), provider: 'cpu' });
    try {
      const reference = await engine.run({
        imagePath: resumed.imagePath, workDir: join(root, 'reference'), options: resumed.options,
        signal: new AbortController().signal, onEvent: () => undefined,
      });
      const [a, b] = await Promise.all([decodeFrames(reference.videoPath), decodeFrames(resumed.result!.videoPath)]);
      expect(a.length).toBeGreaterThan(0);
      expect(b.equals(a)).toBe(true);
    } finally {
      await engine.close();
    }

    // Every job ended exactly as asked; the cancelled one was stopped by its worker.
    const states = Object.fromEntries(await Promise.all([...order, 'reroll'].map(async (k) => {
      const id = k === 'reroll' ? rerollJob : jobs[k]!;
      return [k, (await store.getJob(id))!.state] as const;
    })));
    expect(states).toEqual({ a1: 'done', b1: 'done', c1: 'done', a2: 'done', b2: 'done', c2: 'cancelled', reroll: 'done' });
    expect(discord.originalOf(interactions.c2!)!.content).toContain('was cancelled');

    // Nothing delivered twice: one final video per finished job, none for the cancelled one.
    for (const [k, interaction] of [...Object.entries(interactions), ['reroll', reroll.id] as const]) {
      const finals = finalDeliveries(interaction);
      expect(finals, `final deliveries of ${k}`).toBe(k === 'c2' ? 0 : 1);
    }

    // SIGTERM drains the surviving worker cleanly.
    workerB.child.kill('SIGTERM');
    await workerB.exited;
    expect(workerB.child.exitCode).toBe(0);
  }, 300_000);

  /** The job id a status message's buttons carry. */
  function jobIdOf(interactionId: string): string | undefined {
    const message: FakeMessage | undefined = discord.originalOf(interactionId);
    const text = JSON.stringify(message?.components ?? []);
    return /rv:(?:cancel|reroll):([A-Za-z0-9-]+)/.exec(text)?.[1];
  }

  /** Every text the bot set on an interaction's status message. */
  function statusTexts(interactionId: string): string[] {
    const token = discord.calls.find((c) => c.path.startsWith(`/interactions/${interactionId}/`))?.path.split('/')[3];
    return discord.calls
      .filter((c) => token !== undefined && c.path.includes(`/${token}/messages/`) && c.method === 'PATCH')
      .map((c) => String(c.body?.content ?? ''));
  }

  /** Edits of an interaction's message that uploaded a file while saying the job is done. */
  function finalDeliveries(interactionId: string): number {
    const token = discord.calls.find((c) => c.path.startsWith(`/interactions/${interactionId}/`))?.path.split('/')[3];
    return discord.calls.filter((c) =>
      token !== undefined && c.path.includes(`/${token}/messages/`) && c.method === 'PATCH' && c.status < 300 &&
      c.files.length > 0 && String(c.body?.content ?? '').includes('is done')).length;
  }
});
