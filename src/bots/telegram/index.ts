// Public entry of the Telegram adapter.
export { createTelegramBot, webhookSecret, type TelegramBot, type TelegramBotOptions, type TelegramBotConfig } from './bot.ts';
export { CLOUD_API_LIMITS, LOCAL_API_LIMITS, type TelegramFileLimits } from './limits.ts';
