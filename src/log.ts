// Structured logging with pino. Secrets are redacted three ways: by known paths, by credential-named
// fields at any depth of the written line, and by value (any configured secret, raw or escaped, wherever it appears).
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
  // Each secret as it is, URL-encoded (a Telegram token's ':' is %3A in a query) and JSON-escaped.
  for (const s of secrets) for (const form of secretForms(s)) out = out.split(form).join('[REDACTED]');
  return out
    .replace(/\/bot\d+:[A-Za-z0-9_-]{20,}/g, '/bot[REDACTED]')
    .replace(/\/(webhooks|interactions)\/(\d+)\/[A-Za-z0-9_.-]{20,}/g, '/$1/$2/[REDACTED]');
}

function secretForms(secret: string): string[] {
  const escaped = JSON.stringify(secret).slice(1, -1);
  // As it is, URL-encoded, JSON-escaped, and escaped twice (a JSON body logged as a string field).
  const forms = new Set([secret, encodeURIComponent(secret), escaped, JSON.stringify(escaped).slice(1, -1)]);
  forms.add(encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())); // %3a, as some clients write it
  return [...forms].filter((f) => f.length >= 4);
}

/** Field names whose values are credentials at any depth (job.reply.token, a stored interaction token). */
const SECRET_FIELD = new RegExp(`^(${['token', 'interactionToken', 'apiKey', 'api_key', 'authorization', 'password', 'secret', ...SECRET_KEYS].join('|')})$`, 'i');

/**
 * pino's redact paths are fixed-depth (`*.token` is one level), so log objects are also walked to
 * any depth and every credential-named field is masked. Objects are copied, never changed in place.
 */
export function redactDeep(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
  if (value instanceof Error || Buffer.isBuffer(value) || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) && v !== undefined && v !== null && typeof v !== 'object' ? '[REDACTED]' : redactDeep(v, depth + 1, seen);
  }
  return out;
}

/**
 * The whole serialized line is walked, not pino's log object alone: a child logger's bindings are
 * serialized once when the child is made and never pass through pino's formatters again.
 */
function redactLine(line: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line; // not JSON (a pretty transport): value masking still applies
  }
  return `${JSON.stringify(redactDeep(parsed))}\n`;
}

export function createLogger(config: Partial<Config>, destination?: DestinationStream): Logger {
  const secrets = secretValues(config);
  const sink: DestinationStream = destination ?? pinoDestination({ dest: 2, sync: true });
  const masked: DestinationStream = { write: (line: string) => sink.write(maskSecrets(redactLine(line), secrets)) };
  return pino(
    {
      level: config.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      base: { app: 'recurvid' },
    },
    masked,
  );
}
