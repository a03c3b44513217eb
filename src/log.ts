// Structured logging with pino. Secrets are redacted twice over: by known paths, and by value
// (any configured secret string is masked wherever it appears in a log line).
import { pino, destination as pinoDestination, type Logger, type DestinationStream } from 'pino';
import { SECRET_KEYS, type Config } from './config.ts';

export type { Logger };

const REDACT_PATHS = [
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.Authorization',
  '*.headers.Authorization',
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
];

export function secretValues(config: Partial<Config>): string[] {
  return SECRET_KEYS.map((k) => config[k]).filter((v): v is string => typeof v === 'string' && v.length >= 4);
}

/**
 * Replaces every occurrence of a secret with [REDACTED], and the credentials that live in URLs:
 * Telegram's /bot<token>/ and Discord's interaction tokens (/webhooks/<app>/<token>,
 * /interactions/<id>/<token>), which stay valid for 15 minutes.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[REDACTED]');
  return out
    .replace(/\/bot\d+:[A-Za-z0-9_-]{20,}/g, '/bot[REDACTED]')
    .replace(/\/(webhooks|interactions)\/(\d+)\/[A-Za-z0-9_.-]{20,}/g, '/$1/$2/[REDACTED]');
}

export function createLogger(config: Partial<Config>, destination?: DestinationStream): Logger {
  const secrets = secretValues(config);
  const sink: DestinationStream = destination ?? pinoDestination({ dest: 2, sync: true });
  const masked: DestinationStream = { write: (line: string) => sink.write(maskSecrets(line, secrets)) };
  return pino(
    {
      level: config.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      base: { app: 'recurvid' },
    },
    masked,
  );
}
