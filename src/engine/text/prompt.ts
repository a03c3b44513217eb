// FramePack's encode_prompt_conds inputs: the HunyuanVideo LLaMA prompt template (diffusers
// DEFAULT_PROMPT_TEMPLATE), cropped after encoding, and CLIP ids padded to 77.
import type { TextTokenizer } from './tokenizers.ts';

/** The template's text (data, not code): a system prompt, then the user turn holding `{}`. */
export const HUNYUAN_PROMPT_TEMPLATE =
  '<|start_header_id|>system<|end_header_id|>\n\nDescribe the video by detailing the following aspects: ' +
  '1. The main content and theme of the video.' +
  '2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects.' +
  '3. Actions, events, behaviors temporal relationships, physical movement changes of the objects.' +
  '4. background environment, light, style and atmosphere.' +
  '5. camera angles, movements, and transitions used in the video:<|eot_id|>' +
  '<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>';

/** FramePack: 256 prompt tokens after the template; CLIP: 77 including start/end tokens. */
export const LLAMA_MAX_PROMPT_TOKENS = 256;
export const CLIP_MAX_LENGTH = 77;

/**
 * Number of tokens before the user's prompt (BOS included): the template prefix tokenized alone.
 * diffusers derives the same number (95 for the real tokenizer) from the whole template.
 */
export function computeCropStart(tok: TextTokenizer, template = HUNYUAN_PROMPT_TEMPLATE): number {
  const at = template.indexOf('{}');
  if (at < 0) throw new Error('The prompt template has no {} placeholder.');
  return tok.encode(template.slice(0, at), true).length;
}

export interface LlamaInput {
  ids: number[];
  cropStart: number;
  /** The prompt did not fit in maxPromptTokens (its tail and the closing <|eot_id|> were cut). */
  truncated: boolean;
}

/**
 * As transformers with truncation=True, max_length = maxPromptTokens + crop_start; no padding (see runtime).
 * The template's two halves are tokenized with their special tokens; the user's text is inserted
 * literally (no `$&`-style replacement patterns) and tokenized as plain text, so typed special tokens
 * cannot reshape the template. For prompts without special-token strings the ids equal tokenizing
 * the filled template whole (both halves end/start at a special token or a newline run, where the
 * pre-tokenizer splits anyway).
 */
export function llamaInput(tok: TextTokenizer, prompt: string, cropStart: number, maxPromptTokens = LLAMA_MAX_PROMPT_TOKENS): LlamaInput {
  const at = HUNYUAN_PROMPT_TEMPLATE.indexOf('{}');
  const full = [
    ...tok.encode(HUNYUAN_PROMPT_TEMPLATE.slice(0, at), true),
    ...tok.encodePlain(prompt),
    ...tok.encode(HUNYUAN_PROMPT_TEMPLATE.slice(at + 2), false),
  ];
  const max = maxPromptTokens + cropStart;
  return { ids: full.slice(0, max), cropStart, truncated: full.length > max };
}

export interface ClipInput {
  ids: number[];
  truncated: boolean;
}

/** [bos] + prompt ids (cut to maxLength-2) + [eos], padded with the pad token to maxLength. */
export function clipInput(tok: TextTokenizer, prompt: string, maxLength = CLIP_MAX_LENGTH): ClipInput {
  const bos = tok.specialId('bos_token');
  const eos = tok.specialId('eos_token');
  if (bos === undefined || eos === undefined) throw new Error('The CLIP tokenizer has no bos_token / eos_token.');
  const pad = tok.specialId('pad_token') ?? eos;
  const body = tok.encode(prompt, false);
  const kept = body.slice(0, maxLength - 2);
  const ids = [bos, ...kept, eos];
  while (ids.length < maxLength) ids.push(pad);
  return { ids, truncated: body.length > kept.length };
}
