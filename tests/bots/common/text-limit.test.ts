import { describe, expect, it } from 'vitest';
import {
  DISCORD_CONTENT_LIMIT, DISCORD_EMBED_DESCRIPTION_LIMIT, fitPart, fitText, TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT,
} from '../../../src/bots/common/text-limit.ts';

describe('text limits', () => {
  it('names the platforms’ limits', () => {
    expect([TELEGRAM_TEXT_LIMIT, TELEGRAM_CAPTION_LIMIT, DISCORD_CONTENT_LIMIT, DISCORD_EMBED_DESCRIPTION_LIMIT]).toEqual([4096, 1024, 2000, 4096]);
  });

  it('fitText keeps text that fits and cuts longer text to exactly the limit with an ellipsis', () => {
    expect(fitText('abc', 3)).toBe('abc');
    expect(fitText('abcdef', 4)).toBe('abc…');
    expect(fitText('x'.repeat(5000), TELEGRAM_TEXT_LIMIT)).toHaveLength(TELEGRAM_TEXT_LIMIT);
  });

  it('fitText never leaves half of a surrogate pair', () => {
    const cut = fitText('ab😀cd', 4); // the emoji is two code units at 2..3
    expect(cut).toBe('ab…');
    expect(encodeURIComponent(cut)).toBe('ab%E2%80%A6'); // throws on a lone surrogate
  });

  it('fitPart shortens the prompt, not the lines after it, even when rendering escapes it', () => {
    const render = (p: string) => `Job #1\nPrompt: ${p.replace(/\*/g, '\\*')}\nSettings: 5 s`;
    const out = fitPart(render, '*'.repeat(100), 60);
    expect(out.length).toBeLessThanOrEqual(60);
    expect(out).toMatch(/^Job #1\nPrompt: (\\\*)+…\nSettings: 5 s$/);
    expect(fitPart(render, 'calm', 60)).toBe('Job #1\nPrompt: calm\nSettings: 5 s');
    // When even an empty prompt cannot fit, the whole text is cut as a last resort.
    expect(fitPart(render, 'calm', 10)).toBe('Job #1\nPr…');
  });
});
