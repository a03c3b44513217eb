// The prompt helper's contract, shared by the CLI and both adapters.

/** Used when the user gave no prompt and no helper is configured (the seed README's own example). */
export const DEFAULT_MOTION_PROMPT = 'The subject moves naturally, with clear movements, full of life.';

export type PromptHelperErrorCode = 'not_configured' | 'timeout' | 'refused' | 'rate_limited' | 'failed' | 'bad_image';

export class PromptHelperError extends Error {
  constructor(
    readonly code: PromptHelperErrorCode,
    /** A sentence safe to show in chat (no secrets, no raw server output). */
    message: string,
  ) {
    super(message);
    this.name = 'PromptHelperError';
  }
}

export interface SuggestOptions {
  signal?: AbortSignal;
  /** Skip the cache and ask again. */
  fresh?: boolean;
  /**
   * Which alternative for the image: 0 (default) the usual suggestion, n > 0 the n-th "Another
   * suggestion". Each is cached under its own key, so the same alternative for the same image is
   * asked of the model once, whoever presses the button.
   */
  variant?: number;
}

export interface PromptHelper {
  readonly configured: boolean;
  /** One concise motion prompt for the image. Rejects with PromptHelperError. */
  suggest(image: Buffer, opts?: SuggestOptions): Promise<string>;
}
