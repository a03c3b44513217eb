// The prompting module's public surface for adapters and the CLI.
export { createPromptHelper, cacheKey, type PromptHelperOptions } from './helper.ts';
export { promptHelperFromConfig } from './from-config.ts';
export { resolvePrompt, type ResolvedPrompt } from './resolve.ts';
export { cleanPromptAnswer, MAX_PROMPT_CHARS } from './clean.ts';
export { MOTION_PROMPT_TEMPLATE } from './template.ts';
export { DEFAULT_MOTION_PROMPT, PromptHelperError, type PromptHelper, type PromptHelperErrorCode, type SuggestOptions } from './types.ts';
