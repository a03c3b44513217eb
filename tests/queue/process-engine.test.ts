// The engine in its own process: events (with preview bytes) come back, cancel stops within one
// step, a worker killed mid-job is restarted and the job resumes from its checkpoint, and a worker
// that keeps dying fails the job with a clear sentence instead of taking the caller down.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EngineCancelledError, type EngineEvent } from '../../src/engine/types.ts';
import { jobOptions } from '../../src/options/job-options.ts';
import { type ProcessEngine, startProcessEngine } from '../../src/queue/engine-process/process-engine.ts';
import type { FakeFactoryOptions } from '../fakes/engines/fake-engine-factory.ts';
import { onCleanup, runCleanups, tempDataDir, testImage } from './helpers.ts';
import { writeFile } from 'node:fs/promises';
import { createLogger } from '../../src/log.ts';
import { ManualTimers } from '../fakes/manual-timers.ts';

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const factory = pathToFileURL(path.resolve('tests/fakes/engines/fake-engine-factory.ts')).href;

afterEach(runCleanups);

async function engineWith(options: FakeFactoryOptions): Promise<ProcessEngine> {
  const engine = await startProcessEngine({ spec: { module: factory, options: { ...options } }, logLevel: 'silent' });
  onCleanup(() => engine.close());
  return engine;
}

async function jobFiles() {
  const dir = await tempDataDir();
  const imagePath = path.join(dir, 'in.png');
  await writeFile(imagePath, await testImage());
  return { imagePath, workDir: path.join(dir, 'work') };
}

describe('ProcessEngine', () => {
  it('runs the job in another process and relays its events, previews as Buffers', async () => {
    const engine = await engineWith({ stepMs: 1, sections: 2, steps: 2 });
    expect(engine.describe()).toContain('fake engine');
    expect(engine.pid).not.toBe(process.pid);
    const events: EngineEvent[] = [];
    const result = await engine.run({
      ...(await jobFiles()),
      options: jobOptions({ steps: 2, seconds: 2, previews: true }),
      signal: new AbortController().signal,
      onEvent: (e) => events.push(e),
    });
    expect(events.filter((e) => e.type === 'step')).toHaveLength(4);
    const step = events.find((e) => e.type === 'step')!;
    expect(step.type === 'step' && Buffer.isBuffer(step.previewPng)).toBe(true);
    expect(events.filter((e) => e.type === 'section').map((e) => e.type === 'section' && e.section)).toEqual([1, 2]);
    expect(existsSync(result.videoPath)).toBe(true);
  });

  it('cancel stops the run within one step', async () => {
    const engine = await engineWith({ stepMs: 30, sections: 3, steps: 10 });
    const controller = new AbortController();
    let steps = 0;
    let stepsAtCancel = 0;
    const run = engine.run({
      ...(await jobFiles()),
      options: jobOptions({ steps: 10, seconds: 2, previews: false }),
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type !== 'step') return;
        steps += 1;
        if (steps === 3) {
          stepsAtCancel = steps;
          controller.abort();
        }
      },
    });
    await expect(run).rejects.toBeInstanceOf(EngineCancelledError);
    expect(steps - stepsAtCancel).toBeLessThanOrEqual(1);
  });

  it('a worker killed mid-job is restarted and the job resumes from its checkpoint', async () => {
    const engine = await engineWith({ stepMs: 5, sections: 3, steps: 2 });
    const firstPid = engine.pid!;
    const sampled: number[] = [];
    const stages: string[] = [];
    const result = await engine.run({
      ...(await jobFiles()),
      options: jobOptions({ steps: 2, seconds: 3, previews: false }),
      signal: new AbortController().signal,
      onEvent: (e) => {
        if (e.type === 'stage' && e.detail) stages.push(e.detail);
        if (e.type === 'step' && e.step === 1) sampled.push(e.section);
        if (e.type === 'section' && e.section === 1 && engine.pid === firstPid) process.kill(firstPid, 'SIGKILL');
      },
    });
    expect(engine.restarts).toBe(1);
    expect(engine.pid).not.toBe(firstPid);
    expect(result.resumed).toBe(true);
    expect(sampled).toEqual([1, 2, 3]); // section 1 was not sampled again
    expect(stages.some((d) => d.includes('restarted'))).toBe(true);
  });

  it('a worker that keeps dying fails the job with a clear message and the engine still works', async () => {
    const engine = await engineWith({ stepMs: 1, sections: 1, steps: 3, killAtStep: 2 });
    const run = engine.run({
      ...(await jobFiles()),
      options: jobOptions({ steps: 3, seconds: 1, previews: false }),
      signal: new AbortController().signal,
      onEvent: () => undefined,
    });
    await expect(run).rejects.toThrow(/engine process stopped unexpectedly \(signal SIGKILL\).*after 2 crashes/);
    // The retry started a process at once; the one after the second crash waits out its back-off.
    expect(engine.restarts).toBe(1);
  });

  it('an engine process that dies while idle is restarted after a back-off that doubles, not in a loop', async () => {
    const timers = new ManualTimers();
    const engine = await startProcessEngine({ spec: { module: factory, options: { stepMs: 1, sections: 1, steps: 1 } }, logLevel: 'silent', timers, respawn: { baseMs: 1000, maxMs: 8000 } });
    onCleanup(() => engine.close());
    const job = async () => engine.run({ ...(await jobFiles()), options: jobOptions({ steps: 1, seconds: 1, previews: false }), signal: new AbortController().signal, onEvent: () => undefined });
    const killAndWait = async () => {
      process.kill(engine.pid!, 'SIGKILL');
      await waitFor(() => engine.pid === undefined);
    };

    await killAndWait();
    await timers.advance(999);
    expect(engine.pid).toBeUndefined(); // not restarted yet
    await timers.advance(1);
    expect(engine.pid).toBeDefined();
    await job(); // the new process is up (ready) and works

    await killAndWait();
    await timers.advance(1999);
    expect(engine.pid).toBeUndefined(); // the second delay is twice the first
    await timers.advance(1);
    expect(engine.pid).toBeDefined();
    expect(engine.restarts).toBe(2);

    // A job that arrives during a back-off does not wait for it.
    await job();
    await killAndWait();
    await expect(job()).resolves.toBeDefined();
    expect(engine.restarts).toBe(3);
    await timers.advance(60_000); // the cancelled back-off timer starts nothing more
    expect(engine.restarts).toBe(3);
  });

  it('the engine process gets an allow-listed environment: no bot token, API key or REDIS_URL', async () => {
    const names = ['DISCORD_TOKEN', 'TELEGRAM_TOKEN', 'PROMPT_HELPER_API_KEY', 'REDIS_URL', 'CUDA_VISIBLE_DEVICES', 'PATH'];
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    Object.assign(process.env, { DISCORD_TOKEN: 'discord-secret-token', TELEGRAM_TOKEN: '123:telegram-secret', PROMPT_HELPER_API_KEY: 'sk-secret', REDIS_URL: 'redis://:pw@127.0.0.1:1' });
    onCleanup(async () => {
      for (const n of names) if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    });
    const engine = await startProcessEngine({ spec: { module: factory, options: { revealEnv: names } }, logLevel: 'silent', env: { CUDA_VISIBLE_DEVICES: '3' } });
    onCleanup(() => engine.close());
    const d = engine.describe();
    for (const n of ['DISCORD_TOKEN', 'TELEGRAM_TOKEN', 'PROMPT_HELPER_API_KEY', 'REDIS_URL']) expect(d).toContain(`${n}=(unset)`);
    expect(d).toContain('CUDA_VISIBLE_DEVICES=3');
    expect(d).toContain(`PATH=${process.env.PATH}`);
  });

  it('a factory that throws is reported at start, in one sentence', async () => {
    const bad = pathToFileURL(path.resolve('tests/fakes/engines/does-not-exist.ts')).href;
    await expect(startProcessEngine({ spec: { module: bad, options: {} }, logLevel: 'silent' })).rejects.toThrow(/The engine could not start/);
  });

  it('writes the engine process’s log lines through this process’s logger: job id bound, secrets redacted', async () => {
    const secret = 'sekrit-discord-token-0123456789';
    const lines: string[] = [];
    const log = createLogger({ DISCORD_TOKEN: secret, LOG_LEVEL: 'info' }, { write: (line: string) => void lines.push(line) });
    const engine = await startProcessEngine({
      spec: { module: factory, options: { stepMs: 1, sections: 1, steps: 1, logOnRun: `token is ${secret}` } },
      log: log.child({ worker: 'gpu-7' }),
    });
    onCleanup(() => engine.close());
    const dir = await tempDataDir();
    const workDir = path.join(dir, 'jobs', 'job-abc', 'work');
    const imagePath = path.join(dir, 'in.png');
    await writeFile(imagePath, await testImage());
    await engine.run({ imagePath, workDir, options: jobOptions({ steps: 1, seconds: 1 }), signal: new AbortController().signal, onEvent: () => undefined });
    const relayed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith('engine run starts'));
    expect(relayed).toMatchObject({ level: 40, app: 'recurvid', worker: 'gpu-7', jobId: 'job-abc', engineProcess: engine.pid, detail: { sections: 1 } });
    expect(relayed!.msg).toBe('engine run starts: token is [REDACTED]');
    expect(relayed!.token).toBe('[REDACTED]');
    expect(lines.join('\n')).not.toContain(secret);
  });
});
