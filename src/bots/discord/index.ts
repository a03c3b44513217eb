// Public entry of the Discord adapter.
export { createDiscordBot, type DiscordBot, type DiscordBotOptions } from './bot.ts';
export type { DiscordBotConfig } from './settings.ts';
