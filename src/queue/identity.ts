// Who a user is across platforms: `discord:<id>`, `telegram:<id>` (`cli:<id>` for local runs).
// Discord snowflakes and Telegram ids are both plain numbers and can be equal, so everything that
// compares users (per-user limits, fairness, job ownership, admins) compares these scoped
// identities, never the bare platform ids.
import type { JobRecord, Platform } from './types.ts';

/** The identity of a platform's user id; an id already scoped for that platform comes back as-is. */
export function userIdentity(platform: Platform, id: string): string {
  return id.startsWith(`${platform}:`) ? id : `${platform}:${id}`;
}

/**
 * A stored record as this version reads it: records written before identities were scoped carry
 * the bare platform id, which their own `platform` field scopes unambiguously.
 */
export function withScopedUser(record: JobRecord): JobRecord {
  const userId = userIdentity(record.platform, record.userId);
  return userId === record.userId ? record : { ...record, userId };
}
