import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

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
    for (const c of ['start', 'animate', 'prompt', 'convert', 'models', 'conformance', 'doctor', 'bench']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    }
  });

  it('doctor reports tools and which secrets are set, never their values', async () => {
    const r = await cli(['doctor'], { DISCORD_TOKEN: 'super-secret-token-1234', MODELS_DIR: '/nonexistent-models' });
    expect(r.stdout).toMatch(/Node\.js\s+\d+\./);
    expect(r.stdout).toMatch(/ffmpeg/);
    expect(r.stdout).toMatch(/onnxruntime\s+providers: cpu/);
    expect(r.stdout).toMatch(/DISCORD_TOKEN\s+set/);
    expect(r.stdout).toMatch(/TELEGRAM_TOKEN\s+not set/);
    expect(r.stdout).toMatch(/MISSING\s+model sets/);
    expect(r.stdout + r.stderr).not.toContain('super-secret-token-1234');
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
