// Everything the handlers share: the queue, the prompt helper, configuration and the clock.
import type { Logger } from '../../log.ts';
import type { JobQueue } from '../../queue/types.ts';
import type { PromptHelper } from '../../prompting/types.ts';
import type { ImageLimits } from '../common/image.ts';
import type { DiscordBotConfig } from './settings.ts';
import type { SuggestionStore } from './suggestions.ts';

export interface BotContext {
  queue: JobQueue;
  promptHelper: PromptHelper | undefined;
  config: DiscordBotConfig;
  log: Logger;
  /** Wall clock used for interaction-token age (tests fake it). */
  now: () => number;
  imageLimits: ImageLimits;
  suggestions: SuggestionStore;
}

export function optionCaps(config: DiscordBotConfig): { maxSeconds: number; maxSteps: number } {
  return { maxSeconds: config.MAX_SECONDS, maxSteps: config.MAX_STEPS };
}

export function optionBase(config: DiscordBotConfig): { seconds: number; steps: number } {
  return { seconds: Math.min(config.DEFAULT_SECONDS, config.MAX_SECONDS), steps: Math.min(config.DEFAULT_STEPS, config.MAX_STEPS) };
}
