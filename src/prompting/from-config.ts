// Builds the prompt helper from PROMPT_HELPER_* settings (configured = a base URL or an API key).
import type { Keyv } from 'keyv';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { createPromptHelper } from './helper.ts';
import type { PromptHelper } from './types.ts';

export function promptHelperFromConfig(
  config: Pick<Config, 'PROMPT_HELPER_BASE_URL' | 'PROMPT_HELPER_API_KEY' | 'PROMPT_HELPER_MODEL' | 'PROMPT_HELPER_TIMEOUT_MS'>,
  deps: { cache?: Keyv; log?: Logger } = {},
): PromptHelper {
  return createPromptHelper({
    baseUrl: config.PROMPT_HELPER_BASE_URL,
    apiKey: config.PROMPT_HELPER_API_KEY,
    model: config.PROMPT_HELPER_MODEL,
    timeoutMs: config.PROMPT_HELPER_TIMEOUT_MS,
    cache: deps.cache,
    log: deps.log,
  });
}
