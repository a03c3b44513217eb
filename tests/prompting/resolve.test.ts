import { describe, expect, it } from 'vitest';
import { resolvePrompt } from '../../src/prompting/resolve.ts';
import { DEFAULT_MOTION_PROMPT, PromptHelperError, type PromptHelper } from '../../src/prompting/types.ts';

const image = Buffer.from('image bytes');

function fakeHelper(result: string | PromptHelperError, configured = true): PromptHelper & { calls: number } {
  return {
    configured,
    calls: 0,
    suggest() {
      this.calls++;
      return typeof result === 'string' ? Promise.resolve(result) : Promise.reject(result);
    },
  };
}

describe('resolvePrompt', () => {
  it("uses the user's prompt without asking the helper", async () => {
    const helper = fakeHelper('The cat dances.');
    expect(await resolvePrompt('  The dog runs.  ', helper, image)).toEqual({ prompt: 'The dog runs.', source: 'user' });
    expect(helper.calls).toBe(0);
  });

  it("uses the helper's suggestion when there is no prompt, and says so", async () => {
    const r = await resolvePrompt('', fakeHelper('The cat dances.'), image);
    expect(r).toMatchObject({ prompt: 'The cat dances.', source: 'helper' });
    expect(r.notice).toContain('The cat dances.');
  });

  it('falls back to the default prompt when no helper is configured, and says so', async () => {
    for (const helper of [undefined, fakeHelper('unused', false)]) {
      const r = await resolvePrompt('   ', helper, image);
      expect(r.prompt).toBe(DEFAULT_MOTION_PROMPT);
      expect(r.source).toBe('default');
      expect(r.notice).toBe(`No prompt was given and no prompt helper is configured, so I used the default prompt: "${DEFAULT_MOTION_PROMPT}".`);
    }
  });

  it('falls back to the default prompt when the helper fails, with its reason', async () => {
    const r = await resolvePrompt('', fakeHelper(new PromptHelperError('timeout', 'The prompt helper timed out.')), image);
    expect(r).toMatchObject({ prompt: DEFAULT_MOTION_PROMPT, source: 'default' });
    expect(r.notice).toBe(`The prompt helper timed out. I used the default prompt: "${DEFAULT_MOTION_PROMPT}".`);
  });
});
