// The prompt helper's rate limits: token buckets per user and per chat/server, on an injected clock.
import { describe, expect, it } from 'vitest';
import { PromptLimiter, promptLimitMessage, promptLimitsFrom } from '../../../src/bots/common/prompt-limit.ts';

function limiter(perUser: number, perPlace: number, windowMs = 60_000) {
  const clock = { t: 1_000_000 };
  return { clock, limits: new PromptLimiter({ perUser, perPlace, windowMs }, () => clock.t) };
}

describe('PromptLimiter', () => {
  it('allows a burst of perUser, then refuses with the time until one is free; refills over the window', () => {
    const { clock, limits } = limiter(3, 100, 60_000);
    expect([1, 2, 3].map(() => limits.take('u1', 'c1').ok)).toEqual([true, true, true]);
    expect(limits.take('u1', 'c1')).toEqual({ ok: false, who: 'user', retryInMs: 20_000 });
    clock.t += 19_999;
    expect(limits.take('u1', 'c1').ok).toBe(false);
    clock.t += 1;
    expect(limits.take('u1', 'c1').ok).toBe(true);
    expect(limits.take('u2', 'c1').ok).toBe(true); // another user has their own bucket
  });

  it('limits a chat across its users, and a refusal spends nobody’s token', () => {
    const { clock, limits } = limiter(2, 3, 60_000);
    expect(limits.take('a', 'chat').ok).toBe(true);
    expect(limits.take('b', 'chat').ok).toBe(true);
    expect(limits.take('c', 'chat').ok).toBe(true);
    expect(limits.take('d', 'chat')).toEqual({ ok: false, who: 'place', retryInMs: 20_000 });
    expect(limits.take('d', 'elsewhere').ok).toBe(true); // d's refused request cost d nothing
    expect(limits.take('d', 'elsewhere').ok).toBe(true);
    clock.t += 20_000;
    expect(limits.take('e', 'chat').ok).toBe(true);
  });

  it('0 turns a limit off; configuration keys fall back to the defaults', () => {
    const { limits } = limiter(0, 0);
    for (let i = 0; i < 50; i++) expect(limits.take('u', 'c').ok).toBe(true);
    expect(promptLimitsFrom({})).toEqual({ perUser: 5, perPlace: 20, windowMs: 600_000 });
    expect(promptLimitsFrom({ PROMPT_HELPER_PER_USER: 2, PROMPT_HELPER_PER_PLACE: 0, PROMPT_HELPER_WINDOW_S: 60 })).toEqual({ perUser: 2, perPlace: 0, windowMs: 60_000 });
  });

  it('says who is over the limit and when to try again', () => {
    expect(promptLimitMessage({ ok: false, who: 'user', retryInMs: 120_000 }, 'chat')).toBe('You have asked the prompt helper too often. Please try again in 2 minutes.');
    expect(promptLimitMessage({ ok: false, who: 'place', retryInMs: 1_200 }, 'server')).toBe(
      'The prompt helper has been asked too often in this server. Please try again in 2 seconds.',
    );
    expect(promptLimitMessage({ ok: false, who: 'user', retryInMs: 61_000 }, 'chat')).toMatch(/in 2 minutes\.$/);
    expect(promptLimitMessage({ ok: false, who: 'user', retryInMs: 60_000 }, 'chat')).toMatch(/in 1 minute\.$/);
  });
});
