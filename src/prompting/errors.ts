// Maps whatever the openai client throws to a PromptHelperError with a sentence safe for chat:
// no API key, no URL, no raw server body (those go to the log only, if anywhere).
import OpenAI from 'openai';
import { PromptHelperError } from './types.ts';

export interface FailureContext {
  /** Our own deadline fired. */
  timedOut: boolean;
  /** The caller's signal fired. */
  cancelled: boolean;
  model: string;
}

export function toPromptHelperError(err: unknown, ctx: FailureContext): PromptHelperError {
  if (err instanceof PromptHelperError) return err;
  if (ctx.cancelled) return new PromptHelperError('failed', 'The prompt request was cancelled.');
  if (ctx.timedOut || err instanceof OpenAI.APIConnectionTimeoutError) {
    return new PromptHelperError('timeout', 'The prompt helper timed out.');
  }
  if (err instanceof OpenAI.RateLimitError) {
    return new PromptHelperError('rate_limited', 'The prompt helper is rate limited right now. Please try again in a minute or write a prompt yourself.');
  }
  if (err instanceof OpenAI.AuthenticationError || err instanceof OpenAI.PermissionDeniedError) {
    return new PromptHelperError('failed', 'The prompt helper refused its API key (check PROMPT_HELPER_API_KEY).');
  }
  if (err instanceof OpenAI.NotFoundError) {
    return new PromptHelperError('failed', `The prompt helper does not offer the model "${ctx.model}" (check PROMPT_HELPER_MODEL).`);
  }
  if (err instanceof OpenAI.BadRequestError || err instanceof OpenAI.UnprocessableEntityError) {
    return new PromptHelperError('failed', `The prompt helper rejected the request (HTTP ${err.status}); the model "${ctx.model}" may not accept images.`);
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return new PromptHelperError('failed', 'The prompt helper could not be reached.');
  }
  if (err instanceof OpenAI.APIError && err.status) {
    return new PromptHelperError('failed', `The prompt helper failed (HTTP ${err.status}).`);
  }
  return new PromptHelperError('failed', 'The prompt helper failed.');
}
