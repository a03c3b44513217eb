// Everything the handlers share: the queue, the prompt helper, configuration and the clock.
import { DM_LIMITS_KEY } from '../../config.ts';
import { OPTION_LIMITS, type JobOptions, type ModelVariant } from '../../options/job-options.ts';
import type { OptionCaps } from '../../options/fields.ts';
import type { Logger } from '../../log.ts';
import type { JobQueue } from '../../queue/types.ts';
import type { PromptHelper } from '../../prompting/types.ts';
import type { ImageLimits } from '../common/image.ts';
import type { DiscordBotConfig } from './settings.ts';
import type { SuggestionStore } from './suggestions.ts';
import type { PromptLimiter } from '../common/prompt-limit.ts';

export interface BotContext {
  queue: JobQueue;
  promptHelper: PromptHelper | undefined;
  config: DiscordBotConfig;
  log: Logger;
  /** Wall clock used for interaction-token age (tests fake it). */
  now: () => number;
  imageLimits: ImageLimits;
  suggestions: SuggestionStore;
  /** Rate limits on prompt helper requests per user and per server (DMs: per channel). */
  promptLimits: PromptLimiter;
  /** The transformers the model set holds (all when unknown). */
  models?: readonly ModelVariant[];
}

/**
 * The caps in force where the request came from: the stricter of the server's (DISCORD_GUILD_LIMITS)
 * and the global ones; a DM (no server) gets the `dm` entry.
 */
export function optionCaps(config: DiscordBotConfig, guildId: string | null, models?: readonly ModelVariant[]): OptionCaps {
  const guild = config.DISCORD_GUILD_LIMITS[guildId ?? DM_LIMITS_KEY];
  return {
    ...(models ? { models } : {}),
    maxSeconds: Math.min(config.MAX_SECONDS, guild?.maxSeconds ?? Infinity, OPTION_LIMITS.seconds.max),
    maxSteps: Math.min(config.MAX_STEPS, guild?.maxSteps ?? Infinity, OPTION_LIMITS.steps.max),
  };
}

export function optionBase(config: DiscordBotConfig, guildId: string | null): Partial<JobOptions> {
  const caps = optionCaps(config, guildId);
  return {
    seconds: Math.min(config.DEFAULT_SECONDS, caps.maxSeconds),
    steps: Math.min(config.DEFAULT_STEPS, caps.maxSteps),
    ...(config.DEFAULT_CACHE ? { cache: config.DEFAULT_CACHE } : {}),
  };
}
