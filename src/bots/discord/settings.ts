// The part of the app configuration the Discord adapter reads, and the access rules built from it.
import type { Config } from '../../config.ts';

export type DiscordBotConfig = Pick<
  Config,
  | 'DISCORD_GUILD_IDS'
  | 'DISCORD_CHANNEL_IDS'
  | 'DISCORD_ALLOW_DMS'
  | 'DISCORD_GUILD_LIMITS'
  | 'ADMIN_USER_IDS'
  | 'MAX_SECONDS'
  | 'MAX_STEPS'
  | 'DEFAULT_SECONDS'
  | 'DEFAULT_STEPS'
> &
  Partial<Pick<Config, 'DEFAULT_CACHE' | 'PROMPT_HELPER_PER_USER' | 'PROMPT_HELPER_PER_PLACE' | 'PROMPT_HELPER_WINDOW_S'>>;

/** Discord's default upload limit for bots when the interaction does not say otherwise. */
export const DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024;

export interface Place {
  guildId: string | null;
  channelId: string | null;
}

/** Guild and channel allowlists (empty = everywhere) and the DM switch. */
export function isAllowedPlace(config: DiscordBotConfig, place: Place): boolean {
  if (place.guildId === null) return config.DISCORD_ALLOW_DMS;
  if (config.DISCORD_GUILD_IDS.length > 0 && !config.DISCORD_GUILD_IDS.includes(place.guildId)) return false;
  if (config.DISCORD_CHANNEL_IDS.length > 0 && (place.channelId === null || !config.DISCORD_CHANNEL_IDS.includes(place.channelId))) {
    return false;
  }
  return true;
}

export const NOT_HERE = 'RecurVid is not enabled in this place. Ask a server admin which channels it works in.';
