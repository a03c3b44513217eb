// File size limits of the Bot API. The cloud API serves downloads up to 20 MB and takes uploads up
// to 50 MB; a self-hosted Bot API server (TELEGRAM_API_ROOT) lifts both to 2000 MB.
export interface TelegramFileLimits {
  /** Largest input file the bot can fetch with getFile. */
  maxDownloadBytes: number;
  /** Largest video the bot may upload; bigger results are re-encoded to fit. */
  maxUploadBytes: number;
}

const MB = 1024 * 1024;

export const CLOUD_API_LIMITS: TelegramFileLimits = { maxDownloadBytes: 20 * MB, maxUploadBytes: 50 * MB };
export const LOCAL_API_LIMITS: TelegramFileLimits = { maxDownloadBytes: 2000 * MB, maxUploadBytes: 2000 * MB };

/** True when the API root is a self-hosted Bot API server rather than api.telegram.org. */
export function isLocalApiRoot(apiRoot: string | undefined): boolean {
  if (!apiRoot) return false;
  return new URL(apiRoot).hostname !== 'api.telegram.org';
}

export function limitsFor(apiRoot: string | undefined, override?: Partial<TelegramFileLimits>): TelegramFileLimits {
  return { ...(isLocalApiRoot(apiRoot) ? LOCAL_API_LIMITS : CLOUD_API_LIMITS), ...override };
}

export function formatMB(bytes: number): string {
  return `${Math.round((bytes / MB) * 10) / 10} MB`;
}
