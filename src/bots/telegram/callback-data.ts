// Inline-button payloads are signed: Telegram hands callback_data back verbatim, but anyone can
// craft a callback query, so a payload is only trusted when its HMAC matches. The key is derived
// from the bot token, so it survives restarts without extra configuration.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type ButtonAction =
  | 'cancel'
  | 'reroll'
  | 'longer'
  /** Prompt suggestion buttons: the subject is a suggestion id, not a job id. */
  | 'prompt_use'
  | 'prompt_more';

const ACTION_CODES: Record<ButtonAction, string> = {
  cancel: 'c',
  reroll: 'r',
  longer: 'l',
  prompt_use: 'pu',
  prompt_more: 'pm',
};
const CODE_ACTIONS = new Map(Object.entries(ACTION_CODES).map(([a, c]) => [c, a as ButtonAction]));

/** Telegram caps callback_data at 64 bytes. */
const MAX_CALLBACK_BYTES = 64;
const SIGNATURE_CHARS = 12;

export interface ButtonPayload {
  action: ButtonAction;
  /** A job id or a suggestion id. */
  subject: string;
}

export class CallbackSigner {
  private readonly key: Buffer;

  constructor(botToken: string) {
    // A derived key: the token itself never leaves this constructor.
    this.key = createHash('sha256').update(`recurvid/telegram/callback/${botToken}`).digest();
  }

  encode(payload: ButtonPayload): string {
    const body = `${ACTION_CODES[payload.action]}:${payload.subject}`;
    const data = `${body}:${this.sign(body)}`;
    if (Buffer.byteLength(data) > MAX_CALLBACK_BYTES) throw new Error(`callback data too long for subject ${payload.subject}`);
    return data;
  }

  /** The payload when the signature is valid, otherwise undefined. */
  decode(data: string): ButtonPayload | undefined {
    const cut = data.lastIndexOf(':');
    if (cut <= 0) return undefined;
    const body = data.slice(0, cut);
    const given = Buffer.from(data.slice(cut + 1));
    const expected = Buffer.from(this.sign(body));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const sep = body.indexOf(':');
    const action = CODE_ACTIONS.get(body.slice(0, sep));
    const subject = body.slice(sep + 1);
    if (!action || !subject) return undefined;
    return { action, subject };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url').slice(0, SIGNATURE_CHARS);
  }
}
