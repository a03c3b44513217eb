import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('configuration', () => {
  it('uses documented defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.QUEUE_MAX).toBe(50);
    expect(c.LOG_LEVEL).toBe('info');
    expect(c.EXECUTION_PROVIDER).toBe('cpu');
    expect(c.DISCORD_TOKEN).toBeUndefined();
  });

  it('leaves Discord DMs off unless DISCORD_ALLOW_DMS turns them on (the allow-lists cannot reach them)', () => {
    expect(loadConfig({}).DISCORD_ALLOW_DMS).toBe(false);
    expect(loadConfig({ DISCORD_ALLOW_DMS: 'true' }).DISCORD_ALLOW_DMS).toBe(true);
  });

  it('parses lists, booleans and numbers', () => {
    const c = loadConfig({ DISCORD_GUILD_IDS: ' 1, 2 ,,3', DISCORD_ALLOW_DMS: 'off', QUEUE_PER_USER: '2' });
    expect(c.DISCORD_GUILD_IDS).toEqual(['1', '2', '3']);
    expect(c.DISCORD_ALLOW_DMS).toBe(false);
    expect(c.QUEUE_PER_USER).toBe(2);
  });

  it('treats empty values as unset, so a copied .env.example works', () => {
    expect(loadConfig({ QUEUE_MAX: '', TELEGRAM_TOKEN: '  ' }).QUEUE_MAX).toBe(50);
  });

  it.each([
    [{ QUEUE_MAX: 'many' }, 'QUEUE_MAX', /QUEUE_MAX must be a number/],
    [{ QUEUE_MAX: '0' }, 'QUEUE_MAX', /QUEUE_MAX must be at least 1/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /LOG_LEVEL must be one of fatal, error, warn, info/],
    [{ EXECUTION_PROVIDER: 'tpu' }, 'EXECUTION_PROVIDER', /EXECUTION_PROVIDER must be one of cpu, cuda, webgpu/],
    [{ PROMPT_HELPER_BASE_URL: 'not a url' }, 'PROMPT_HELPER_BASE_URL', /PROMPT_HELPER_BASE_URL must be a URL/],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL', /REDIS_URL/],
  ])('refuses %j with one sentence naming the key', (env, key, message) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).key).toBe(key);
    expect((caught as ConfigError).message).toMatch(message);
    expect((caught as ConfigError).message.trim().split(/(?<=\.)\s/)).toHaveLength(1);
  });

  it('never echoes the rejected value (it may be a secret)', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://user:hunter2@host' })).toThrow(/^(?!.*hunter2)/s);
  });
});

describe('ADMIN_USER_IDS', () => {
  it('takes ids scoped by platform', () => {
    expect(loadConfig({ ADMIN_USER_IDS: ' discord:123456789012345678, Telegram:42 ,,telegram:-1001' }).ADMIN_USER_IDS).toEqual([
      'discord:123456789012345678',
      'telegram:42',
      'telegram:-1001',
    ]);
  });

  it.each(['42', 'discord:42,900', 'slack:42', 'discord:'])('refuses %j: a bare id could be a different person on each platform', (value) => {
    expect(() => loadConfig({ ADMIN_USER_IDS: value })).toThrow(
      /^Configuration error: ADMIN_USER_IDS must list ids with their platform, e\.g\. discord:\d+,telegram:\d+ \(a bare id could be a different person on each platform\)\.$/,
    );
  });
});

describe('.env.example', () => {
  it('documents every configuration key, and nothing else', async () => {
    const { readFile } = await import('node:fs/promises');
    const { configSchema } = await import('../../src/config.ts');
    const text = await readFile('.env.example', 'utf8');
    const keys = [...text.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(new Set(keys)).toEqual(new Set(Object.keys(configSchema.shape)));
    // Every key has a comment line right above its block.
    for (const key of keys) expect(text).toMatch(new RegExp(`#[^\\n]*\\n(?:[A-Z0-9_]+=[^\\n]*\\n)*${key}=`));
  });

  it('loads as-is (empty values are unset)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parse } = await import('dotenv');
    const env = parse(await readFile('.env.example', 'utf8'));
    expect(() => loadConfig(env)).not.toThrow();
  });
});

describe('DISCORD_GUILD_LIMITS', () => {
  it('parses per-server caps', () => {
    expect(loadConfig({ DISCORD_GUILD_LIMITS: '111:30:25, 222:60:50' }).DISCORD_GUILD_LIMITS).toEqual({
      '111': { maxSeconds: 30, maxSteps: 25 },
      '222': { maxSeconds: 60, maxSteps: 50 },
    });
  });

  it('takes a dm entry: the caps of direct messages', () => {
    expect(loadConfig({ DISCORD_GUILD_LIMITS: '111:30:25,dm:10:20' }).DISCORD_GUILD_LIMITS).toEqual({
      '111': { maxSeconds: 30, maxSteps: 25 },
      dm: { maxSeconds: 10, maxSteps: 20 },
    });
  });

  it.each(['111:30', '111:0:25', '111:30:101', 'abc:30:25'])('refuses %j with the expected form named', (value) => {
    expect(() => loadConfig({ DISCORD_GUILD_LIMITS: value })).toThrow(/^Configuration error: DISCORD_GUILD_LIMITS must list guildId:maxSeconds:maxSteps entries/);
  });
});

describe('TELEGRAM_LOCAL_FILES_MAP and TELEGRAM_DOWNLOAD_TIMEOUT_MS', () => {
  it('parses server_dir=local_dir and refuses anything else; the timeout has a default', () => {
    const config = loadConfig({ TELEGRAM_LOCAL_FILES_MAP: '/var/lib/telegram-bot-api=/srv/tg' });
    expect(config.TELEGRAM_LOCAL_FILES_MAP).toEqual({ server: '/var/lib/telegram-bot-api', local: '/srv/tg' });
    expect(config.TELEGRAM_DOWNLOAD_TIMEOUT_MS).toBe(120_000);
    expect(() => loadConfig({ TELEGRAM_LOCAL_FILES_MAP: 'relative=/srv/tg' })).toThrow(/TELEGRAM_LOCAL_FILES_MAP must be server_dir=local_dir/);
  });
});
