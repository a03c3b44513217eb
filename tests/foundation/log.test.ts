import { describe, expect, it } from 'vitest';
import { createLogger, maskSecrets } from '../../src/log.ts';
import { loadConfig } from '../../src/config.ts';

function capture(env: Record<string, string>) {
  const lines: string[] = [];
  const log = createLogger(loadConfig(env), { write: (l: string) => void lines.push(l) });
  return { log, lines };
}

describe('logging', () => {
  const token = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.secret-discord-token-value';
  const tgToken = '123456789:AAFakeTelegramTokenValue_0123456789abc';

  it('never writes a configured token, whatever path it takes', () => {
    const { log, lines } = capture({ DISCORD_TOKEN: token, TELEGRAM_TOKEN: tgToken, PROMPT_HELPER_API_KEY: 'sk-test-abcdef123456' });
    log.info({ token }, 'by field');
    log.info({ headers: { authorization: `Bot ${token}` } }, 'by header');
    log.info(`by message ${token} and https://api.telegram.org/bot${tgToken}/getMe`);
    log.error(new Error(`request failed with key sk-test-abcdef123456`), 'by error');
    log.info({ nested: { deeper: { value: `x${token}x` } } }, 'nested');
    const out = lines.join('');
    expect(lines).toHaveLength(5);
    expect(out).not.toContain(token);
    expect(out).not.toContain(tgToken);
    expect(out).not.toContain('sk-test-abcdef123456');
    expect(out).toContain('[REDACTED]');
  });

  it('masks credential fields at any depth, including ones it was not configured with (a stored interaction token)', () => {
    const { log, lines } = capture({ DISCORD_TOKEN: token });
    const interactionToken = 'aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQtdmFsdWU';
    log.info({ job: { id: 'j1', reply: { kind: 'discord', token: interactionToken, channelId: '42' } } }, 'two levels down');
    log.child({ job: { reply: { interactionToken } } }).info('in bindings');
    const out = lines.join('');
    expect(out).not.toContain(interactionToken);
    expect(out).toContain('"channelId":"42"'); // only credential fields are masked
    expect(out.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it('masks URL-encoded and JSON-escaped forms of a configured secret', () => {
    const { log, lines } = capture({ TELEGRAM_TOKEN: tgToken, PROMPT_HELPER_API_KEY: 'sk-test/with+odd"chars' });
    log.info(`GET /file?token=${encodeURIComponent(tgToken)}`);
    log.info(`lowercase escapes ${encodeURIComponent(tgToken).replace('%3A', '%3a')}`);
    log.info({ body: JSON.stringify({ key: 'sk-test/with+odd"chars' }) }, 'escaped in a JSON string field');
    const out = lines.join('');
    expect(out).not.toContain(encodeURIComponent(tgToken));
    expect(out).not.toContain(encodeURIComponent(tgToken).replace('%3A', '%3a'));
    expect(out).not.toContain('odd\\\\\\"chars');
    expect(out).not.toContain('sk-test/with+odd');
  });

  it('masks Telegram-style bot URLs even for tokens it was not told about', () => {
    expect(maskSecrets('GET /bot987654321:ABCdefGHIjklMNOpqrSTUvwxYZ0123 failed', [])).toBe('GET /bot[REDACTED] failed');
  });

  it('masks Discord interaction tokens in webhook and callback URLs', () => {
    const token = 'aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpXeFl6QWJD';
    expect(maskSecrets(`PATCH https://discord.com/api/v10/webhooks/1187/${token}/messages/@original 429`, [])).toBe(
      'PATCH https://discord.com/api/v10/webhooks/1187/[REDACTED]/messages/@original 429',
    );
    expect(maskSecrets(`POST /api/v10/interactions/99/${token}/callback`, [])).toBe('POST /api/v10/interactions/99/[REDACTED]/callback');
  });

  it('honours the configured level', () => {
    const { log, lines } = capture({ LOG_LEVEL: 'warn' });
    log.info('hidden');
    log.warn('shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });
});
