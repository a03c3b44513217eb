// Which prompt a job runs with: the user's own, else the helper's suggestion, else the default
// motion prompt (with a notice when the helper was asked and failed).
import { DEFAULT_MOTION_PROMPT, PromptHelperError, type PromptHelper } from '../../prompting/types.ts';

export interface PromptChoice {
  prompt: string;
  source: 'user' | 'helper' | 'default';
  /** Told to the user when the helper could not help. */
  notice?: string;
}

export async function choosePrompt(userPrompt: string, helper: PromptHelper | undefined, image: Buffer): Promise<PromptChoice> {
  const own = userPrompt.trim();
  if (own) return { prompt: own, source: 'user' };
  if (!helper?.configured) return { prompt: DEFAULT_MOTION_PROMPT, source: 'default' };
  try {
    return { prompt: await helper.suggest(image), source: 'helper' };
  } catch (err) {
    const why = err instanceof PromptHelperError ? err.message : 'the prompt helper failed.';
    return { prompt: DEFAULT_MOTION_PROMPT, source: 'default', notice: `No prompt suggestion (${why}); using the default motion prompt.` };
  }
}
