// Per-user defaults for /animate (every option a user can type that the option table lets
// /settings store), kept in keyv over the server's defaults (which may include a DEFAULT_CACHE mode).
import type Keyv from 'keyv';
import { upgradeStoredOptions, type JobOptions } from '../../options/job-options.ts';

export type UserDefaults = Partial<JobOptions>;

export class UserSettings {
  constructor(
    private readonly store: Keyv,
    /** The server's defaults (DEFAULT_SECONDS, DEFAULT_STEPS, DEFAULT_CACHE), under the user's own. */
    private readonly serverDefaults: UserDefaults = {},
  ) {}

  /** What /animate starts from for this user (the caps are applied when a job is made from it). */
  async effective(userId: string): Promise<UserDefaults> {
    return { ...this.serverDefaults, ...(await this.get(userId)) };
  }

  /** The user's own saved defaults; records saved before MagCache (a `teacache` flag) are read as a cache mode. */
  async get(userId: string): Promise<UserDefaults> {
    const value = (await this.store.get(key(userId))) as object | undefined;
    return value ? upgradeStoredOptions(value) : {};
  }

  async set(userId: string, defaults: UserDefaults): Promise<void> {
    await this.store.set(key(userId), defaults);
  }

  async reset(userId: string): Promise<void> {
    await this.store.delete(key(userId));
  }
}

function key(userId: string): string {
  return `tg:settings:${userId}`;
}
