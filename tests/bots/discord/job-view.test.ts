import { describe, expect, it } from 'vitest';
import { renderStatus, type JobView } from '../../../src/bots/discord/job-view.ts';
import { initialStatus } from '../../../src/bots/common/status.ts';
import { MAX_PROMPT_CHARS } from '../../../src/options/fields.ts';
import { DISCORD_CONTENT_LIMIT } from '../../../src/bots/common/text-limit.ts';
import { jobOptions } from '../../../src/options/job-options.ts';

function view(prompt: string, notes: string[]): JobView {
  const status = initialStatus({ seq: 7, options: jobOptions({ prompt }), endImagePath: undefined });
  return { jobId: 'j7', seq: 7, ownerId: 'discord:1', status, notes };
}

describe('discord status content', () => {
  it('a prompt at the cap that escaping doubles is shortened, so the content fits 2000 and its notes survive', () => {
    const note = 'I could not send the video: it is kept on the server.';
    const { content } = renderStatus(view('~'.repeat(MAX_PROMPT_CHARS), [note]));
    expect(content.length).toBeLessThanOrEqual(DISCORD_CONTENT_LIMIT);
    expect(content.endsWith(`\n${note}`)).toBe(true);
    expect(content).toMatch(/Prompt: (\\~)+~?…\n/); // a lone last ~ needs no escape
  });

  it('a short prompt is shown whole', () => {
    const { content } = renderStatus(view('the sea *glows*', []));
    expect(content).toContain('Prompt: the sea \\*glows\\*\n');
  });
});
