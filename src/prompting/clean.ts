// Output hygiene for the vision model's answer: one plain line that is safe to post in a chat and
// to feed FramePack, or a PromptHelperError('refused') when there is no usable prompt in it.
import { PromptHelperError } from './types.ts';

export const MAX_PROMPT_CHARS = 300;

const REFUSAL =
  /^(i['’]?m sorry|i am sorry|sorry\b|i can['’]?t\b|i cannot\b|i can not\b|i['’]?m (?:not able|unable)|i am (?:not able|unable)|i won['’]?t\b|i will not\b|unfortunately\b|as an ai\b|i['’]?m afraid)/i;
const LABEL = /^(?:(?:suggested|motion|video|animation|final)\s+)?prompt\s*[:：\-–—]\s*/i;
const QUOTES: Array<[string, string]> = [
  ['"', '"'],
  ["'", "'"],
  ['“', '”'],
  ['‘', '’'],
  ['«', '»'],
  ['`', '`'],
];

export function cleanPromptAnswer(answer: string | null | undefined): string {
  let text = (answer ?? '').replace(/```[a-z]*\n?/gi, '').replace(/```/g, '');
  // Drop label-only lines ("Prompt:"), then keep the first line with content.
  const lines = text
    .split(/\r?\n/)
    .map((line) => stripDecorations(line))
    .filter((line) => line.length > 0);
  text = lines[0] ?? '';

  text = text
    .replace(/<[@#][!&]?\d+>/g, '') // Discord user, role and channel mentions
    .replace(/@(?:everyone|here)\b/gi, '')
    .replace(/@[\w.]+/g, '') // @handles
    .replace(/\b(?:https?:\/\/|www\.)\S+/gi, '')
    .replace(/\s+/g, ' ')
    .replace(/\s+([,.;:!?])/g, '$1')
    .trim();
  text = stripDecorations(text);

  if (!text || REFUSAL.test(text)) {
    throw new PromptHelperError('refused', 'The prompt helper did not suggest a prompt for this image. Please write one yourself.');
  }
  return capLength(text, MAX_PROMPT_CHARS);
}

/** Removes list bullets, "Prompt:" labels, markdown emphasis and surrounding quotes, repeatedly. */
function stripDecorations(line: string): string {
  let text = line.replace(/\*\*|__/g, '').trim(); // bold markers carry no meaning in a prompt
  for (;;) {
    const before = text;
    text = text
      .replace(/^(?:[-*•>]\s+|\d+[.)]\s+|#+\s+)/, '')
      .replace(LABEL, '')
      .replace(/^([*_])(.+)\1$/, '$2')
      .trim();
    for (const [open, close] of QUOTES) {
      if (!text.startsWith(open)) continue;
      // A quoted prompt, maybe followed by a remark: keep what is inside the quotes.
      const end = text.indexOf(close, open.length);
      const inner = end > 0 ? text.slice(open.length, end).trim() : '';
      if (end === text.length - close.length || inner.split(/\s+/).length >= 3) text = inner;
    }
    if (text === before) return text;
  }
}

/** Cuts at the last word boundary within the limit, without a dangling comma. */
function capLength(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max + 1);
  const space = cut.lastIndexOf(' ');
  const head = space > max / 2 ? cut.slice(0, space) : text.slice(0, max);
  return head.replace(/[\s,;:–—-]+$/, '');
}
