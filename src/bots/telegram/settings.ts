// Per-user defaults for /animate (every option a user can type except the seed), stored in keyv,
// over the server's defaults (which may include a DEFAULT_CACHE mode).
import type Keyv from 'keyv';
import type { AnimateOptions } from '../../engine/types.ts';

export type UserDefaults = Partial<Pick<AnimateOptions, 'seconds' | 'steps' | 'teacache' | 'cache' | 'model' | 'endFrameStrength' | 'distilledCfg'>>;

export class UserSettings {
  constructor(
    private readonly store: Keyv,
    /** The server's defaults (DEFAULT_SECONDS, DEFAULT_STEPS), under the user's own. */
    private readonly serverDefaults: UserDefaults = {},
  ) {}

  /** What /animate starts from for this user. */
  async effective(userId: string): Promise<UserDefaults> {
    const own = await this.get(userId);
    const merged = { ...this.serverDefaults, ...own };
    // A user's saved "teacache=on/off" beats the server's cache mode.
    if (own.teacache !== undefined && own.cache === undefined) delete merged.cache;
    return merged;
  }

  async get(userId: string): Promise<UserDefaults> {
    const value = (await this.store.get(key(userId))) as UserDefaults | undefined;
    return value ?? {};
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
