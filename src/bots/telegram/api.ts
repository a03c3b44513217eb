// Every Bot API call from the adapter goes through here: a 429 pauses that chat for its
// retry_after and the call is retried, and "message is not modified" counts as success (an edit
// that changes nothing is harmless, not an error). Also: how to read a failed upload, and the
// reply_parameters form that survives telegraf's multipart encoding.
import { TelegramError } from 'telegraf';
import type { ReplyParameters } from 'telegraf/types';
import type { Logger } from '../../log.ts';
import { PRIORITY, type ChatBudget, type Priority } from '../common/chat-budget.ts';

export interface ChatCallerOptions {
  /** Retries after 429s before giving up. */
  maxRetries?: number;
  /** Sleep function (tests may observe it). */
  sleep?: (ms: number) => Promise<void>;
  /** Clock for the per-chat pauses. */
  now?: () => number;
  /** Every call of a chat waits for this chat's budget first (Telegram's per-chat limits). */
  budget?: ChatBudget;
}

export const NOT_MODIFIED = Symbol('not-modified');
/** Returned by a call's function that decided, after waiting for the budget, not to call at all. */
export const SKIPPED = Symbol('skipped');

export class ChatCaller {
  private readonly pausedUntil = new Map<string, number>();
  private readonly maxRetries: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    opts: ChatCallerOptions = {},
  ) {
    this.maxRetries = opts.maxRetries ?? 5;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = opts.now ?? Date.now;
    this.budget = opts.budget;
  }

  private readonly budget: ChatBudget | undefined;

  /**
   * Runs `fn` for `chatId` once the chat's budget allows a call (higher `priority` first), honouring
   * any pause that a 429 put on the chat.
   */
  async call<T>(chatId: number | string, what: string, fn: (waited: boolean) => Promise<T>, priority: Priority = PRIORITY.normal): Promise<T | typeof NOT_MODIFIED> {
    const key = String(chatId);
    for (let attempt = 0; ; attempt++) {
      const wait = (this.pausedUntil.get(key) ?? 0) - this.now();
      if (wait > 0) await this.sleep(wait);
      // `waited`: the chat's budget held this call back, so what it carries may be out of date by now.
      const waited = (await this.budget?.acquire(key, priority)) ?? false;
      try {
        const result = await fn(waited);
        if (result === SKIPPED) this.budget?.refund(key); // nothing was sent: the call is not counted
        return result;
      } catch (err) {
        if (isNotModified(err)) return NOT_MODIFIED;
        const retryAfter = retryAfterSeconds(err);
        if (retryAfter === undefined || attempt >= this.maxRetries) throw err;
        this.log.warn({ chatId: key, what, retryAfter }, 'telegram rate limit; waiting retry_after');
        this.pausedUntil.set(key, Math.max(this.pausedUntil.get(key) ?? 0, this.now() + retryAfter * 1000));
      }
    }
  }

  /** Milliseconds the chat is still paused for (0 when free). */
  pausedFor(chatId: number | string): number {
    return Math.max(0, (this.pausedUntil.get(String(chatId)) ?? 0) - this.now());
  }
}

export function isNotModified(err: unknown): boolean {
  return err instanceof TelegramError && err.code === 400 && /message is not modified/i.test(err.description);
}

export function retryAfterSeconds(err: unknown): number | undefined {
  if (!(err instanceof TelegramError) || err.code !== 429) return undefined;
  return err.parameters?.retry_after ?? 5;
}

/**
 * What a failed upload means for what to do next: `too_big` (shrink and resend), `transient`
 * (network error, timeout, HTTP 5xx: try again) or `refused` (any other answer: retrying the same
 * request will not help).
 */
export function uploadFailureKind(err: unknown): 'too_big' | 'transient' | 'refused' {
  if (err instanceof TelegramError) {
    if (err.code === 413 || /too (big|large)|entity too large/i.test(err.description)) return 'too_big';
    if (err.code >= 500) return 'transient';
    return 'refused';
  }
  return 'transient';
}

/** Any Bot API call that retrying may fix (network errors and 5xx; 429s are the ChatCaller's). */
export function isTransient(err: unknown): boolean {
  return uploadFailureKind(err) === 'transient';
}

/**
 * reply_parameters for a multipart upload (sendVideo/sendDocument with a file). telegraf 4.16
 * serialises only a fixed list of JSON fields in multipart bodies and treats any other object as a
 * file, so reply_parameters would be lost; the Bot API accepts it as a JSON string, which telegraf
 * passes through as a plain form field.
 */
export function multipartReplyParameters(messageId: number): ReplyParameters {
  return JSON.stringify({ message_id: messageId, allow_sending_without_reply: true }) as unknown as ReplyParameters;
}

/** A short description of an API error that is safe to log (no token, no payload). */
export function describeApiError(err: unknown): string {
  if (err instanceof TelegramError) return `${err.code} ${err.description}`;
  if (err instanceof Error) return err.message.replace(/\/bot\d+:[^/\s]+/g, '/bot[REDACTED]');
  return String(err);
}
