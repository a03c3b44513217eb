// Configuration comes only from the environment (and `.env` via dotenv), validated once at start.
// A bad key stops the program with one sentence that names the key and what it expects.
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const idList = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export interface GuildLimits {
  maxSeconds: number;
  maxSteps: number;
}
/** The DISCORD_GUILD_LIMITS entry that caps direct messages (no server, so no guild id to key on). */
export const DM_LIMITS_KEY = 'dm';
/**
 * "guildId:maxSeconds:maxSteps,…" → per-server caps (stricter of these and MAX_SECONDS / MAX_STEPS
 * applies); a `dm:maxSeconds:maxSteps` entry caps direct messages the same way.
 */
const guildLimits = z.string().transform((value, ctx) => {
  const out: Record<string, GuildLimits> = {};
  for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+|dm):(\d+):(\d+)$/.exec(entry);
    const seconds = Number(m?.[2]);
    const steps = Number(m?.[3]);
    if (!m || seconds < 1 || seconds > 120 || steps < 1 || steps > 100) {
      ctx.addIssue({ code: 'custom', message: 'must list guildId:maxSeconds:maxSteps entries separated by commas (seconds 1–120, steps 1–100; guildId dm caps direct messages), e.g. 123456789012345678:30:25,dm:10:20' });
      return z.NEVER;
    }
    out[m[1]!] = { maxSeconds: seconds, maxSteps: steps };
  }
  return out;
});

/**
 * "discord:123,telegram:456" → admin identities (see src/queue/identity.ts). A bare id is refused:
 * the same number can be one person on Discord and someone else on Telegram, and guessing the
 * platform (or granting both) would make a stranger an admin.
 */
const adminIds = z.string().transform((value, ctx) => {
  const out: string[] = [];
  for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(discord|telegram):(-?\d+)$/i.exec(entry);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: 'must list ids with their platform, e.g. discord:123456789012345678,telegram:987654321 (a bare id could be a different person on each platform)' });
      return z.NEVER;
    }
    out.push(`${m[1]!.toLowerCase()}:${m[2]!}`);
  }
  return out;
});

/** "server_dir=local_dir", two absolute paths → { server, local }. */
const localFilesMap = z.string().transform((value, ctx) => {
  const m = /^(\/[^=]*)=(\/[^=]*)$/.exec(value);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'must be server_dir=local_dir with two absolute paths, e.g. /var/lib/telegram-bot-api=/srv/telegram-files' });
    return z.NEVER;
  }
  return { server: m[1]!, local: m[2]! };
});

export const configSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('data'),
  MODELS_DIR: z.string().min(1).default('models'),
  MODEL_SET: z.string().min(1).default('tiny'),
  EXECUTION_PROVIDER: z.enum(['cpu', 'cuda', 'webgpu']).default('cpu'),
  MEMORY_BUDGET_GB: z.coerce.number().positive().optional(),
  /** Bucket resolution of every job (FramePack's 640; the tiny set defaults to 128). Unset: the model set's default. */
  BUCKET_RESOLUTION: int(64, 1024).optional(),
  ORT_THREADS: int(1, 1024).optional(),
  FFMPEG_PATH: z.string().min(1).optional(),

  DISCORD_TOKEN: z.string().min(1).optional(),
  DISCORD_GUILD_IDS: idList.default([]),
  DISCORD_CHANNEL_IDS: idList.default([]),
  // Off unless asked for: DMs are outside every server, so the guild and channel allow-lists cannot limit them.
  DISCORD_ALLOW_DMS: bool.default(false),
  DISCORD_GUILD_LIMITS: guildLimits.default({}),
  DISCORD_API_BASE: z.url().optional(),

  TELEGRAM_TOKEN: z.string().min(1).optional(),
  TELEGRAM_API_ROOT: z.url().optional(),
  TELEGRAM_DOWNLOAD_TIMEOUT_MS: int(1_000, 3_600_000).default(120_000),
  /** "server_dir=local_dir": where a self-hosted Bot API server's --dir is mounted here (another container). */
  TELEGRAM_LOCAL_FILES_MAP: localFilesMap.optional(),
  TELEGRAM_WEBHOOK_URL: z.url().optional(),
  TELEGRAM_WEBHOOK_PORT: int(1, 65535).default(8443),
  TELEGRAM_ALLOWED_CHAT_IDS: idList.default([]),

  ADMIN_USER_IDS: adminIds.default([]),
  QUEUE_MAX: int(1, 10_000).default(50),
  QUEUE_PER_USER: int(1, 100).default(1),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').optional(),
  QUEUE_BACKEND: z.enum(['embedded', 'bullmq']).default('embedded'),
  ARTIFACT_TTL_HOURS: z.coerce.number().positive().default(24),
  ARTIFACT_MAX_MB: z.coerce.number().positive().max(512).default(256),
  WORKER_LOCK_MS: int(1_000, 600_000).default(30_000),
  WORKER_NAME: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, dot, dash or underscore (at most 64)').optional(),
  GPU_DEVICE_ID: int(0, 63).optional(),
  JOB_RETENTION_HOURS: z.coerce.number().positive().default(72),
  JOB_RETENTION_MB: z.coerce.number().positive().default(5_000),

  MAX_SECONDS: int(1, 120).default(120),
  MAX_STEPS: int(1, 100).default(100),
  DEFAULT_SECONDS: int(1, 120).default(5),
  DEFAULT_STEPS: int(1, 100).default(25),
  DEFAULT_CACHE: z.enum(['none', 'teacache', 'magcache']).default('teacache'),

  PROMPT_HELPER_BASE_URL: z.url().optional(),
  PROMPT_HELPER_API_KEY: z.string().min(1).optional(),
  PROMPT_HELPER_MODEL: z.string().min(1).default('gpt-4o-mini'),
  PROMPT_HELPER_TIMEOUT_MS: int(1_000, 600_000).default(30_000),
  /** Prompt helper requests (/prompt, "Another suggestion") per user and per chat/server per window; 0 = no limit. */
  PROMPT_HELPER_PER_USER: int(0, 10_000).default(5),
  PROMPT_HELPER_PER_PLACE: int(0, 100_000).default(20),
  PROMPT_HELPER_WINDOW_S: int(1, 86_400).default(600),

  HF_TOKEN: z.string().min(1).optional(),
  HF_ENDPOINT: z.url().optional(),
});

export type Config = z.infer<typeof configSchema>;

/** Keys whose values are secrets: never logged, only reported as set / not set. */
export const SECRET_KEYS = ['DISCORD_TOKEN', 'TELEGRAM_TOKEN', 'PROMPT_HELPER_API_KEY', 'HF_TOKEN', 'REDIS_URL'] as const;

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; empty strings count as unset so `.env.example` copies work as-is. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') raw[key] = value.trim();
  }
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0] ?? 'configuration');
  // Never echo the offending value: it may be a secret.
  throw new ConfigError(key, `Configuration error: ${key} ${describeIssue(issue)}.`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_type':
      return `must be ${issue.expected === 'number' ? 'a number' : `a ${issue.expected}`}`;
    case 'invalid_format':
      return `must be ${issue.format === 'url' ? 'a URL' : issue.message}`;
    case 'custom':
      return issue.message;
    default:
      return `is invalid (${issue.message})`;
  }
}
