// A per-chat send budget: a token bucket per chat that every platform call of that chat waits on,
// text edits, media edits and new messages alike. Platforms limit chats, not messages (Telegram:
// about one message a second in a chat and 20 a minute in a group), so per-message throttling alone
// let 50 queued jobs in one group send 1176 edits. Waiting calls are served by priority (a job's
// last status and its video before progress), then in arrival order. The latest-wins throttles in
// front of it coalesce what waits, so a slow chat gets fewer, newer edits rather than a backlog.
import { realTimers, type Timers } from '../../util/timers.ts';
import { msUntilToken, refill, type Bucket } from './token-bucket.ts';

export interface BudgetRule {
  /** Calls that may go out back to back after a quiet period. */
  burst: number;
  /** One more call is allowed every `refillMs`. */
  refillMs: number;
}

/** Higher goes first. */
export const PRIORITY = { progress: 0, normal: 1, final: 2 } as const;
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY];

/**
 * Telegram's published limits. In any 60 s a group gets at most burst + 60 s / refill = 2 + 18 = 20
 * calls; a private chat about one a second.
 */
export const TELEGRAM_BUDGET = {
  private: { burst: 3, refillMs: 1000 },
  group: { burst: 2, refillMs: 3334 },
} as const satisfies Record<string, BudgetRule>;

interface Waiter {
  priority: number;
  order: number;
  resolve: () => void;
}

interface ChatState extends Bucket {
  waiters: Waiter[];
  timer: unknown;
}

export class ChatBudget {
  private readonly chats = new Map<string, ChatState>();
  private order = 0;
  private calls = 0;

  constructor(
    private readonly ruleFor: (chat: string) => BudgetRule,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Resolves when the chat may make one call (true if it had to wait for it); the call is counted then. */
  acquire(chat: string, priority: Priority = PRIORITY.normal): Promise<boolean> {
    if (++this.calls % 1000 === 0) this.sweep();
    const state = this.state(chat);
    this.refill(chat, state);
    if (state.waiters.length === 0 && state.tokens >= 1) {
      state.tokens -= 1;
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      state.waiters.push({ priority, order: this.order++, resolve: () => resolve(true) });
      this.pump(chat, state);
    });
  }

  /** Gives back a call that was acquired but not made. */
  refund(chat: string): void {
    const state = this.chats.get(chat);
    if (!state) return;
    this.refill(chat, state);
    state.tokens = Math.min(this.ruleFor(chat).burst, state.tokens + 1);
    if (state.timer !== undefined) {
      this.timers.clearTimeout(state.timer);
      state.timer = undefined;
    }
    this.pump(chat, state);
  }

  /** Calls waiting in the chat (for logs and tests). */
  waiting(chat: string): number {
    return this.chats.get(chat)?.waiters.length ?? 0;
  }

  /** Forgets chats that are idle with a full bucket, so the map does not grow with every chat ever seen. */
  private sweep(): void {
    for (const [chat, state] of this.chats) {
      if (state.waiters.length > 0) continue;
      this.refill(chat, state);
      if (state.tokens >= this.ruleFor(chat).burst) this.chats.delete(chat);
    }
  }

  private state(chat: string): ChatState {
    let state = this.chats.get(chat);
    if (!state) {
      state = { tokens: this.ruleFor(chat).burst, at: this.timers.now(), waiters: [], timer: undefined };
      this.chats.set(chat, state);
    }
    return state;
  }

  private refill(chat: string, state: ChatState): void {
    const rule = this.ruleFor(chat);
    refill(state, rule.burst, 1, rule.refillMs, this.timers.now()); // one token per refillMs
  }

  private pump(chat: string, state: ChatState): void {
    if (state.timer !== undefined) return;
    this.refill(chat, state);
    while (state.tokens >= 1 && state.waiters.length > 0) {
      state.waiters.sort((a, b) => b.priority - a.priority || a.order - b.order);
      state.tokens -= 1;
      state.waiters.shift()!.resolve();
    }
    if (state.waiters.length === 0) {
      if (state.tokens >= this.ruleFor(chat).burst) this.chats.delete(chat); // full and idle: forget it
      return;
    }
    const wait = msUntilToken(state, 1, this.ruleFor(chat).refillMs);
    state.timer = this.timers.setTimeout(() => {
      state.timer = undefined;
      this.pump(chat, state);
    }, wait);
  }
}
