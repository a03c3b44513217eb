// Decides the prompt a job runs with: the user's own words, else the helper's suggestion, else
// FramePack's default prompt, with a notice the adapter shows so the user knows which it was.
import { DEFAULT_MOTION_PROMPT, PromptHelperError, type PromptHelper } from './types.ts';

export interface ResolvedPrompt {
  prompt: string;
  source: 'user' | 'helper' | 'default';
  /** A sentence for the chat when the prompt was not the user's (or the helper could not help). */
  notice?: string;
}

export async function resolvePrompt(userPrompt: string, helper: PromptHelper | undefined, image: Buffer): Promise<ResolvedPrompt> {
  const prompt = userPrompt.trim();
  if (prompt) return { prompt, source: 'user' };

  const fallback = `I used the default prompt: "${DEFAULT_MOTION_PROMPT}"`;
  if (!helper?.configured) {
    return { prompt: DEFAULT_MOTION_PROMPT, source: 'default', notice: `No prompt was given and no prompt helper is configured, so ${fallback}.` };
  }
  try {
    const suggested = await helper.suggest(image);
    return { prompt: suggested, source: 'helper', notice: `No prompt was given, so the prompt helper suggested: "${suggested}"` };
  } catch (err) {
    const reason = err instanceof PromptHelperError ? err.message : 'The prompt helper failed.';
    return { prompt: DEFAULT_MOTION_PROMPT, source: 'default', notice: `${reason} ${capitalize(fallback)}.` };
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
