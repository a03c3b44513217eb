// The Discord adapter's factory: a discord.js client, command registration, the interaction and
// mention handlers, and the tracker that turns queue events into status-message edits.
//
// Gateway intents: Guilds (channel cache, needed to receive interactions in guild channels and
// mentions), GuildMessages and DirectMessages (MESSAGE_CREATE for "@RecurVid" mentions).
// The privileged MessageContent intent is NOT needed: bots get the content of messages that
// mention them, and app-command payloads carry their target message in full. Turn it on
// (messageContentIntent) only if replies to other people's images in guilds must work without
// the "Animate image" app command, since without it Discord hides other messages' attachments.
import { Client, Events, GatewayIntentBits, Partials, type ClientOptions } from 'discord.js';
import type { ModelVariant } from '../../options/job-options.ts';
import type { Logger } from '../../log.ts';
import type { JobQueue } from '../../queue/types.ts';
import type { PromptHelper } from '../../prompting/types.ts';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from '../common/image.ts';
import { buildCommands, registerCommands } from './commands.ts';
import type { BotContext } from './context.ts';
import type { Clock } from '../../queue/clock.ts';
import { JobTracker } from './job-tracker.ts';
import { handleMention } from './message-trigger.ts';
import { routeInteraction } from './interaction-router.ts';
import type { DiscordBotConfig } from './settings.ts';
import { StatusMessenger } from './status-messenger.ts';
import { SuggestionStore } from './suggestions.ts';
import { PromptLimiter, promptLimitsFrom } from '../common/prompt-limit.ts';

export interface DiscordBotOptions {
  token: string;
  queue: JobQueue;
  promptHelper?: PromptHelper;
  config: DiscordBotConfig;
  log: Logger;
  clientOptions?: {
    /** REST base, e.g. a loopback fake: "http://127.0.0.1:port/api" (DISCORD_API_BASE). */
    restApi?: string;
  };
  /** Request the privileged Message Content intent (must be enabled in the developer portal). */
  messageContentIntent?: boolean;
  /** Clock for interaction-token age; tests fake it. */
  now?: () => number;
  /** Least time between two edits of one status message (default 1500 ms). */
  editIntervalMs?: number;
  /** Least time between two latent previews on one status message (default 10 s). */
  previewIntervalMs?: number;
  /** Clock for status timings (elapsed, preview spacing); real time when omitted. */
  clock?: Clock;
  /** Pauses between attempts of a final status edit (tests shorten them). */
  retryDelaysMs?: readonly number[];
  imageLimits?: ImageLimits;
  /** The transformers the model set holds; `model` is offered and accepted accordingly (all when omitted). */
  models?: readonly ModelVariant[];
}

export interface DiscordBot {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly client: Client;
}

export function createDiscordBot(opts: DiscordBotOptions): DiscordBot {
  const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages];
  if (opts.messageContentIntent) intents.push(GatewayIntentBits.MessageContent);
  const clientOptions: ClientOptions = {
    intents,
    // DM channels are not cached up front; without the Channel partial DM messages are dropped.
    partials: [Partials.Channel],
    allowedMentions: { parse: [], repliedUser: false },
    ...(opts.clientOptions?.restApi ? { rest: { api: opts.clientOptions.restApi } } : {}),
  };
  const client = new Client(clientOptions);
  // The REST token is set now so that queue events (e.g. `resumed` during queue.start()) can edit
  // status messages even before the gateway is connected.
  client.rest.setToken(opts.token);
  const log = opts.log.child({ platform: 'discord' });
  const now = opts.now ?? Date.now;
  const ctx: BotContext = {
    queue: opts.queue,
    promptHelper: opts.promptHelper,
    config: opts.config,
    log,
    now,
    imageLimits: opts.imageLimits ?? DEFAULT_IMAGE_LIMITS,
    suggestions: new SuggestionStore(),
    promptLimits: new PromptLimiter(promptLimitsFrom(opts.config), now),
    ...(opts.models ? { models: opts.models } : {}),
  };
  const tracker = new JobTracker({
    queue: opts.queue,
    messenger: new StatusMessenger(client.rest, now),
    log,
    editIntervalMs: opts.editIntervalMs ?? 1_500,
    previewIntervalMs: opts.previewIntervalMs ?? 10_000,
    clock: opts.clock ?? { now },
    ...(opts.retryDelaysMs ? { retryDelaysMs: opts.retryDelaysMs } : {}),
  });
  // Subscribe at once: the integrator creates the bot before queue.start() so no event is missed.
  tracker.start();

  client.on(Events.InteractionCreate, (interaction) => void routeInteraction(ctx, interaction));
  client.on(Events.MessageCreate, (message) => {
    if (!client.user) return;
    void handleMention(ctx, message, client.user.id).catch((err: unknown) => log.error({ err }, 'discord: mention handler failed'));
  });
  client.on(Events.Error, (err) => log.error({ err }, 'discord: client error'));

  return {
    client,
    async start() {
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      await client.login(opts.token);
      await ready;
      const commands = buildCommands({
        maxSeconds: opts.config.MAX_SECONDS,
        maxSteps: opts.config.MAX_STEPS,
        defaults: { seconds: opts.config.DEFAULT_SECONDS, steps: opts.config.DEFAULT_STEPS },
        allowDms: opts.config.DISCORD_ALLOW_DMS,
        ...(opts.models ? { models: opts.models } : {}),
      });
      await registerCommands(client.rest, client.application!.id, opts.config.DISCORD_GUILD_IDS, commands);
      log.info({ user: client.user?.tag, guilds: opts.config.DISCORD_GUILD_IDS.length || 'global' }, 'discord: ready, commands registered');
    },
    async stop() {
      await tracker.stop();
      await client.destroy();
    },
  };
}
