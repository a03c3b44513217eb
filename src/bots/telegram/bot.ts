// The Telegram adapter: a telegraf bot (long polling, or a webhook when TELEGRAM_WEBHOOK_URL is
// set) that turns commands and button presses into queue jobs and renders the queue's events.
import { createHash } from 'node:crypto';
import Keyv from 'keyv';
import { Telegraf, type Telegram } from 'telegraf';
import type { Update } from 'telegraf/types';
import type { Config } from '../../config.ts';
import { maskSecrets, type Logger } from '../../log.ts';
import type { PromptHelper } from '../../prompting/types.ts';
import type { JobQueue } from '../../queue/types.ts';
import { ChatCaller, describeApiError, type ChatCallerOptions } from './api.ts';
import { handleButton } from './buttons.ts';
import { CallbackSigner } from './callback-data.ts';
import { COMMAND_DESCRIPTIONS } from './commands.ts';
import { handleMessage, type IncomingMessage } from './commands-handler.ts';
import { limitsFor, type TelegramFileLimits } from './limits.ts';
import { systemClock, type Clock } from '../../queue/clock.ts';
import { DEFAULT_EDIT_INTERVALS, JobPresenter, type EditIntervals } from './presenter.ts';
import type { ChatKind } from './reply-target.ts';
import { SeenUpdates } from './seen-updates.ts';
import { senderOf } from './sender.ts';
import { UserSettings } from './settings.ts';
import { submitAnimation, type AnimateRequest } from './submit.ts';
import { Suggestions } from './suggestions.ts';
import { MediaGroups } from './media-group.ts';
import { PromptLimiter, promptLimitsFrom } from '../common/prompt-limit.ts';
import type { ModelVariant } from '../../options/job-options.ts';
import { ChatBudget, TELEGRAM_BUDGET, type BudgetRule } from '../common/chat-budget.ts';
import type { Timers } from '../../util/timers.ts';

export type TelegramBotConfig = Pick<
  Config,
  | 'TELEGRAM_API_ROOT'
  | 'TELEGRAM_WEBHOOK_URL'
  | 'TELEGRAM_WEBHOOK_PORT'
  | 'TELEGRAM_ALLOWED_CHAT_IDS'
  | 'MAX_SECONDS'
  | 'MAX_STEPS'
  | 'DEFAULT_SECONDS'
  | 'DEFAULT_STEPS'
> &
  Partial<Pick<Config, 'DEFAULT_CACHE' | 'TELEGRAM_DOWNLOAD_TIMEOUT_MS' | 'TELEGRAM_LOCAL_FILES_MAP' | 'PROMPT_HELPER_PER_USER' | 'PROMPT_HELPER_PER_PLACE' | 'PROMPT_HELPER_WINDOW_S'>>;

export interface TelegramBotOptions {
  token: string;
  queue: JobQueue;
  promptHelper?: PromptHelper;
  config: TelegramBotConfig;
  log: Logger;
  /** Per-user settings and seen update ids; in memory when omitted. */
  settingsStore?: Keyv;
  /** Overrides TELEGRAM_API_ROOT (tests point it at a loopback fake). */
  apiRoot?: string;
  /** Overrides the Bot API file limits (tests use a small upload limit). */
  fileLimits?: Partial<TelegramFileLimits>;
  /** Minimum time between edits of one status message. */
  editIntervals?: Partial<EditIntervals>;
  /** 429 handling (tests observe the waits). */
  rateLimit?: ChatCallerOptions;
  /** Interface the webhook server listens on (all interfaces when omitted). */
  webhookHost?: string;
  /** The transformers the model set holds; `model=` is checked against them (all when omitted). */
  models?: readonly ModelVariant[];
  /** How long to wait for the rest of an album after its last photo (tests shorten it). */
  albumSettleMs?: number;
  /** Time source for status timings and rate-limit pauses (real time when omitted). */
  clock?: Clock;
  /** Pauses between attempts of an upload or a final status edit (tests shorten them). */
  retryDelaysMs?: readonly number[];
  /** Longest time one attempt of the final upload may take (default 5 min). */
  uploadTimeoutMs?: number;
  /** Per-chat call budgets (default: Telegram's limits, TELEGRAM_BUDGET). */
  chatBudget?: Partial<Record<'private' | 'group', BudgetRule>>;
  /** Timers of the chat budgets and edit throttles (real ones when omitted). */
  timers?: Timers;
}

export interface TelegramBot {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createTelegramBot(opts: TelegramBotOptions): TelegramBot {
  const { token, queue, config, promptHelper } = opts;
  const apiRoot = opts.apiRoot ?? config.TELEGRAM_API_ROOT;
  const log = opts.log.child({ platform: 'telegram' });
  // webhookReply off: every call goes over HTTP so we get results (message ids) back.
  const bot = new Telegraf(token, { telegram: { ...(apiRoot ? { apiRoot } : {}), webhookReply: false } });
  const telegram = bot.telegram;
  const services = telegramServices(opts, telegram, log);
  const { caller, presenter, suggestions, settings, caps, files, limits, signer } = services;
  const safe = (err: unknown): string => maskSecrets(describeApiError(err), [token]);
  const tasks = new BackgroundTasks((err) => log.error({ err: safe(err) }, 'telegram task failed'));
  const animate = (req: AnimateRequest) =>
    submitAnimation({ telegram, queue, caller, presenter, promptHelper, caps, ...files, log }, req);
  const mediaGroups = new MediaGroups(opts.albumSettleMs ?? 1200);

  guardUpdates(bot, new Set(config.TELEGRAM_ALLOWED_CHAT_IDS), services.seen, log);

  bot.on('message', async (ctx) => {
    mediaGroups.remember(ctx.message);
    const msg: IncomingMessage = {
      message: ctx.message,
      chatId: ctx.chat.id,
      chatType: ctx.chat.type as ChatKind,
      user: senderOf(ctx.message),
    };
    await handleMessage(
      {
        queue,
        settings,
        suggestions,
        caps,
        maxDownloadBytes: limits.maxDownloadBytes,
        botUsername: () => bot.botInfo?.username,
        reply: async (m, text) => {
          await caller.call(m.chatId, 'sendMessage', () =>
            telegram.sendMessage(m.chatId, text, { reply_parameters: { message_id: m.message.message_id, allow_sending_without_reply: true } }),
          );
        },
        animate,
        spawn: (work) => tasks.spawn(work),
        mediaGroups,
      },
      msg,
    );
  });

  bot.on('callback_query', async (ctx) => {
    const query = ctx.callbackQuery;
    const data = 'data' in query ? query.data : '';
    const message = query.message;
    const answer = await handleButton(
      // Button-started animations run in the background like command-started ones.
      { queue, signer, suggestions, settings, maxSeconds: caps.maxSeconds, animate: (req) => tasks.track(animate(req)) },
      {
        queryId: query.id,
        userId: String(query.from.id),
        userName: query.from.username ?? query.from.first_name,
        data,
        chatId: message?.chat.id,
        chatType: message?.chat.type as ChatKind | undefined,
        messageId: message?.message_id,
      },
    );
    await ctx.answerCbQuery(answer.text, { show_alert: answer.alert });
  });

  bot.catch((err, ctx) => {
    log.error({ err: safe(err), updateId: (ctx.update as Update).update_id }, 'telegram update failed');
  });

  // Subscribed from creation, so `resumed` events of queue.start() find their status messages.
  const unsubscribe = queue.subscribe((event) => presenter.handle(event), 'telegram');
  let loop: Promise<void> | undefined;

  return {
    async start() {
      ({ loop } = await launchBot(bot, opts, log, safe));
    },
    async stop() {
      unsubscribe();
      try {
        bot.stop('shutdown');
      } catch {
        /* not running */
      }
      await loop?.catch(() => undefined);
      await tasks.settled();
      await presenter.idle();
    },
  };
}

/** Everything the handlers share: limits, the per-chat caller, settings, the presenter, suggestions. */
function telegramServices(opts: TelegramBotOptions, telegram: Telegram, log: Logger) {
  const { token, queue, config, promptHelper } = opts;
  // The 2000 MB limits follow TELEGRAM_API_ROOT (a self-hosted server), not a test's apiRoot.
  const limits = limitsFor(config.TELEGRAM_API_ROOT, opts.fileLimits);
  const files = { maxDownloadBytes: limits.maxDownloadBytes, downloadTimeoutMs: config.TELEGRAM_DOWNLOAD_TIMEOUT_MS, localFiles: config.TELEGRAM_LOCAL_FILES_MAP };
  const store = opts.settingsStore ?? new Keyv();
  const clock = opts.clock ?? systemClock;
  const rules = { ...TELEGRAM_BUDGET, ...opts.chatBudget };
  // Group and channel chat ids are negative in the Bot API; users' private chats are positive.
  const budget = new ChatBudget((chat) => (chat.startsWith('-') ? rules.group : rules.private), opts.timers);
  const caller = new ChatCaller(log, { now: () => clock.now(), budget, ...opts.rateLimit });
  const signer = new CallbackSigner(token);
  const settings = new UserSettings(store, { seconds: config.DEFAULT_SECONDS, steps: config.DEFAULT_STEPS, ...(config.DEFAULT_CACHE ? { cache: config.DEFAULT_CACHE } : {}) });
  const seen = new SeenUpdates(store, { now: () => clock.now() });
  const caps = { maxSeconds: config.MAX_SECONDS, maxSteps: config.MAX_STEPS, ...(opts.models ? { models: opts.models } : {}) };
  const presenter = new JobPresenter({
    telegram,
    queue,
    caller,
    signer,
    log,
    maxUploadBytes: limits.maxUploadBytes,
    intervals: { ...DEFAULT_EDIT_INTERVALS, ...opts.editIntervals },
    clock,
    ...(opts.timers ? { timers: opts.timers } : {}),
    ...(opts.retryDelaysMs ? { retryDelaysMs: opts.retryDelaysMs } : {}),
    ...(opts.uploadTimeoutMs ? { uploadTimeoutMs: opts.uploadTimeoutMs } : {}),
  });
  const limiter = new PromptLimiter(promptLimitsFrom(config), () => clock.now());
  const suggestions = new Suggestions({ telegram, caller, signer, promptHelper, ...files, log, now: () => clock.now(), limiter });
  return { limits, files, caller, signer, settings, seen, caps, presenter, suggestions };
}

/** Work started by an update that outlives its handler; stop() waits for it. */
class BackgroundTasks {
  private readonly tasks = new Set<Promise<unknown>>();

  constructor(private readonly onError: (err: unknown) => void) {}

  spawn(work: () => Promise<unknown>): void {
    void this.track(work());
  }

  track<T>(p: Promise<T>): Promise<T> {
    this.tasks.add(p);
    void p.catch(this.onError).finally(() => this.tasks.delete(p));
    return p;
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.tasks]);
  }
}

/**
 * Chats outside the allow-list stop first (nothing is written for them); then idempotency: a
 * re-delivered update stops here.
 */
function guardUpdates(bot: Telegraf, allowedChats: ReadonlySet<string>, seen: SeenUpdates, log: Logger): void {
  bot.use(async (ctx, next) => {
    const chatId = ctx.chat?.id;
    if (allowedChats.size > 0 && chatId !== undefined && !allowedChats.has(String(chatId))) return;
    if (!(await seen.firstTime(ctx.update.update_id))) {
      log.info({ updateId: ctx.update.update_id }, 'duplicate update ignored');
      return;
    }
    await next();
  });
}

/**
 * Webhook mode when TELEGRAM_WEBHOOK_URL is set, else long polling. The polling loop comes back
 * wrapped: it settles only when polling stops, and start() must not wait for that.
 */
async function launchBot(bot: Telegraf, opts: TelegramBotOptions, log: Logger, safe: (err: unknown) => string): Promise<{ loop?: Promise<void> }> {
  const { telegram } = bot;
  const { config, token } = opts;
  bot.botInfo = await telegram.getMe();
  await telegram.setMyCommands(COMMAND_DESCRIPTIONS).catch((err: unknown) => log.warn({ err: safe(err) }, 'setMyCommands failed'));
  const webhook = config.TELEGRAM_WEBHOOK_URL ? new URL(config.TELEGRAM_WEBHOOK_URL) : undefined;
  if (webhook) {
    await bot.launch({
      allowedUpdates: ['message', 'callback_query'],
      webhook: {
        domain: webhook.host,
        path: webhook.pathname === '/' ? '/telegram' : webhook.pathname,
        port: config.TELEGRAM_WEBHOOK_PORT,
        ...(opts.webhookHost ? { host: opts.webhookHost } : {}),
        secretToken: webhookSecret(token),
      },
    });
    log.info({ bot: bot.botInfo.username, mode: 'webhook' }, 'telegram bot started');
    return {};
  }
  // launch() resolves only when polling stops, so it runs on; getMe already succeeded.
  const loop = bot.launch({ allowedUpdates: ['message', 'callback_query'] });
  loop.catch((err: unknown) => log.error({ err: safe(err) }, 'telegram polling stopped'));
  log.info({ bot: bot.botInfo.username, mode: 'polling' }, 'telegram bot started');
  return { loop };
}

/** The webhook's secret_token header value, derived from the bot token (never the token itself). */
export function webhookSecret(token: string): string {
  return createHash('sha256').update(`recurvid/telegram/webhook/${token}`).digest('hex').slice(0, 48);
}
