// The platforms' length limits for what a bot sends, and one way to fit text into them: a message
// over the limit is refused by the API outright, so a status that grew too long would stop updating.
// Lengths are UTF-16 code units (JavaScript's length): Telegram counts that way, and it is never
// less than Discord's count of characters, so text that fits here fits there.

/** Telegram: sendMessage / editMessageText text. */
export const TELEGRAM_TEXT_LIMIT = 4096;
/** Telegram: a photo, video or document caption. */
export const TELEGRAM_CAPTION_LIMIT = 1024;
/** Discord: a message's content. */
export const DISCORD_CONTENT_LIMIT = 2000;
/** Discord: an embed's description. */
export const DISCORD_EMBED_DESCRIPTION_LIMIT = 4096;

const ELLIPSIS = '…';

/** `text` if it fits in `max`, else its start and an ellipsis, never splitting a surrogate pair. */
export function fitText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - ELLIPSIS.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1; // a high surrogate whose pair would be cut off
  return `${text.slice(0, end)}${ELLIPSIS}`;
}

/**
 * `render(part)` fitted into `max` by shortening `part` (a prompt) rather than the whole text, so
 * the lines around it (settings, a delivery note) survive. `render` may grow `part` (escaping), so
 * the longest cut that fits is searched for; fitText is the last resort when none does.
 */
export function fitPart(render: (part: string) => string, part: string, max: number): string {
  const whole = render(part);
  if (whole.length <= max) return whole;
  const cut = (room: number) => render(room > ELLIPSIS.length ? fitText(part, room) : ELLIPSIS);
  // Binary search for the largest room whose rendering fits (rendering grows with the room).
  let lo = 0;
  let hi = part.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cut(mid).length <= max) lo = mid;
    else hi = mid - 1;
  }
  return fitText(cut(lo), max);
}
