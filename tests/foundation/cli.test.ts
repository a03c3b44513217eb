import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { doctorExitCode } from '../../src/cli/commands/doctor.ts';

const run = promisify(execFile);
const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['bin/recurvid.mjs', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 60_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('recurvid CLI', () => {
  it('--help lists every subcommand', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['start', 'animate', 'prompt', 'convert', 'models', 'conformance', 'doctor', 'worker']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    }
  });

  it('doctor reports tools and which secrets are set, never their values', async () => {
    const r = await cli(['doctor'], { DISCORD_TOKEN: 'super-secret-token-1234', MODELS_DIR: '/nonexistent-models' });
    expect(r.stdout).toMatch(/Node\.js\s+\d+\./);
    expect(r.stdout).toMatch(/ffmpeg/);
    expect(r.stdout).toMatch(/onnxruntime\s+providers: cpu/);
    expect(r.stdout).toMatch(/^ok\s+DISCORD_TOKEN\s+set \(the Discord bot starts\)/m);
    expect(r.stdout).toMatch(/^off\s+TELEGRAM_TOKEN\s+not set \(the Telegram bot does not start\)/m);
    expect(r.stdout).toMatch(/^ok\s+bots\s+`npm start` starts the Discord bot$/m);
    expect(r.stdout).toMatch(/MISSING\s+model sets/);
    expect(r.stdout + r.stderr).not.toContain('super-secret-token-1234');
    expect(r.code).toBe(1); // a MISSING line is a failure for scripts and health checks
    expect(r.stdout).toMatch(/needed items? (is|are) missing: .*model sets/);
  });

  it("doctor's exit status: 0 when only optional things are off, 1 when something needed is missing", () => {
    const ok = { ok: true, label: 'ffmpeg', detail: '' };
    const off = { ok: false, optional: true, label: 'TELEGRAM_TOKEN', detail: '' };
    expect(doctorExitCode([ok, off])).toBe(0);
    expect(doctorExitCode([ok, off, { ok: false, label: 'model sets', detail: '' }])).toBe(1);
  });

  it('doctor says a missing bot token is not ok: npm start needs at least one', async () => {
    const none = await cli(['doctor'], { MODELS_DIR: '/nonexistent-models' });
    expect(none.stdout).toMatch(/^off\s+DISCORD_TOKEN\s+not set/m);
    expect(none.stdout).toMatch(/^MISSING\s+bots\s+`npm start` needs at least one bot token: set DISCORD_TOKEN and\/or TELEGRAM_TOKEN/m);
    expect(none.stdout).not.toMatch(/^ok\s+(DISCORD|TELEGRAM)_TOKEN/m);
    const both = await cli(['doctor'], { MODELS_DIR: '/nonexistent-models', DISCORD_TOKEN: 'a-b-c', TELEGRAM_TOKEN: '1:abc' });
    expect(both.stdout).toMatch(/^ok\s+bots\s+`npm start` starts the Discord and Telegram bots$/m);
  });

  it('a bad configuration stops the program with the key named', async () => {
    const r = await cli(['doctor'], { QUEUE_MAX: 'lots' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('Configuration error: QUEUE_MAX must be a number.');
  });

  it('an unknown log level stops the program with the key named', async () => {
    const r = await cli(['doctor'], { LOG_LEVEL: 'chatty' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Configuration error: LOG_LEVEL must be one of/);
  });
});
