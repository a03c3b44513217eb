// /prompt: ask the prompt helper for a motion prompt and offer it with two buttons. The button
// payload only names a suggestion id; the image, the prompt and who asked are looked up here.
import { randomBytes } from 'node:crypto';
import type { Telegram } from 'telegraf';
import type { InlineKeyboardMarkup } from 'telegraf/types';
import type { Logger } from '../../log.ts';
import { DEFAULT_MOTION_PROMPT, PromptHelperError, type PromptHelper } from '../../prompting/types.ts';
import { ByteCappedStore } from '../common/byte-capped-store.ts';
import { promptLimitMessage, type PromptLimiter } from '../common/prompt-limit.ts';
import { checkImage, DEFAULT_IMAGE_LIMITS } from '../common/image.ts';
import { SUGGESTION_STORE_BYTES, suggestionCopy, suggestionCopyName } from '../common/suggestion-copy.ts';
import { type ChatCaller, describeApiError, NOT_MODIFIED } from './api.ts';
import type { CallbackSigner } from './callback-data.ts';
import type { ImageRef } from './media.ts';
import type { ChatKind } from './reply-target.ts';
import { fetchTelegramFile, type LocalFilesMap } from './file-fetch.ts';

export interface Suggestion {
  id: string;
  ownerId: string;
  chatId: number;
  chatType: ChatKind;
  messageId: number;
  /** A small re-encoded copy (≤1024 px JPEG), not the upload: waiting suggestions stay cheap to keep. */
  image: Buffer;
  imageName: string;
  prompt: string;
  /** Which alternative the prompt is: 0 from /prompt, n after n presses of "Another suggestion". */
  variant: number;
  createdAt: number;
}

const MAX_SUGGESTIONS = 200;
const SUGGESTION_TTL_MS = 60 * 60 * 1000;

export interface SuggestDeps {
  telegram: Telegram;
  caller: ChatCaller;
  signer: CallbackSigner;
  promptHelper?: PromptHelper;
  maxDownloadBytes: number;
  downloadTimeoutMs?: number;
  localFiles?: LocalFilesMap;
  log: Logger;
  /** Clock for the suggestions' time to live (real time when omitted). */
  now?: () => number;
  /** Cap on the stored images' total bytes (default SUGGESTION_STORE_BYTES). */
  storeBytes?: number;
  /** Rate limits on helper requests per user and per chat (none when omitted). */
  limiter?: PromptLimiter;
}

export class Suggestions {
  private readonly byId: ByteCappedStore<Suggestion>;
  /** Suggestions with an "Another suggestion" request in flight: one at a time each. */
  private readonly busy = new Set<string>();

  constructor(private readonly deps: SuggestDeps) {
    this.byId = new ByteCappedStore(deps.storeBytes ?? SUGGESTION_STORE_BYTES, MAX_SUGGESTIONS);
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  get(id: string): Suggestion | undefined {
    const s = this.byId.get(id);
    if (s && this.now() - s.createdAt > SUGGESTION_TTL_MS) {
      this.byId.delete(id);
      return undefined;
    }
    return s;
  }

  /** Handles /prompt for an image: answers with a suggestion and buttons, or a clear refusal. */
  async offer(req: { chatId: number; chatType: ChatKind; replyTo: number; ownerId: string; image: ImageRef }): Promise<void> {
    const { telegram, caller, promptHelper } = this.deps;
    const send = (text: string, markup?: InlineKeyboardMarkup) =>
      caller.call(req.chatId, 'sendMessage', () =>
        telegram.sendMessage(req.chatId, text, {
          reply_parameters: { message_id: req.replyTo, allow_sending_without_reply: true },
          ...(markup ? { reply_markup: markup } : {}),
        }),
      );
    if (!promptHelper?.configured) {
      await send(`No prompt helper is configured on this bot. Without a prompt, /animate uses:\n${DEFAULT_MOTION_PROMPT}`);
      return;
    }
    // Before the download: a refused request costs nothing.
    const refused = this.overLimit(req.ownerId, req.chatId);
    if (refused) {
      await send(refused);
      return;
    }
    const sent = await send('Looking at your image…');
    if (sent === NOT_MODIFIED) return;
    const edit = (text: string, markup?: InlineKeyboardMarkup) =>
      caller.call(req.chatId, 'editMessageText', () =>
        telegram.editMessageText(req.chatId, sent.message_id, undefined, text, markup ? { reply_markup: markup } : {}),
      );

    let bytes: Buffer;
    try {
      bytes = await fetchTelegramFile(this.deps, req.image);
    } catch (err) {
      this.deps.log.info({ err: describeApiError(err) }, 'prompt image download failed');
      await edit('I could not download that image from Telegram. Please send it again.');
      return;
    }
    const check = await checkImage(bytes, { ...DEFAULT_IMAGE_LIMITS, maxBytes: this.deps.maxDownloadBytes });
    if (!check.ok) {
      await edit(check.message);
      return;
    }
    let copy: Buffer;
    try {
      copy = (await suggestionCopy(bytes)).bytes;
    } catch {
      await edit('That image could not be decoded. Please send it again as a PNG or JPEG.');
      return;
    }
    const suggestion: Suggestion = {
      id: randomBytes(6).toString('base64url'),
      ownerId: req.ownerId,
      chatId: req.chatId,
      chatType: req.chatType,
      messageId: sent.message_id,
      image: copy,
      imageName: suggestionCopyName(req.image.fileName),
      prompt: '',
      variant: 0,
      createdAt: this.now(),
    };
    // The helper sees the upload itself, so its cache answers /animate of the same image too.
    await this.fill(suggestion, bytes, 0, edit);
  }

  /**
   * "Another suggestion": asks for the next alternative and edits the message. Each alternative is
   * cached by the helper, so the same image's n-th alternative is asked of the model once.
   * Refused (a sentence for the button's alert) over the rate limit or while one is on its way.
   */
  another(suggestion: Suggestion): { refused: string } | { work: Promise<void> } {
    if (this.busy.has(suggestion.id)) return { refused: 'Still asking for the last one…' };
    const refused = this.overLimit(suggestion.ownerId, suggestion.chatId);
    if (refused) return { refused };
    const { telegram, caller } = this.deps;
    this.busy.add(suggestion.id);
    const work = this.fill(suggestion, suggestion.image, suggestion.variant + 1, (text, markup) => {
      // The answer is in: a press that sees the new text may ask again, even before the edit returns.
      this.busy.delete(suggestion.id);
      return caller.call(suggestion.chatId, 'editMessageText', () =>
        telegram.editMessageText(suggestion.chatId, suggestion.messageId, undefined, text, markup ? { reply_markup: markup } : {}),
      );
    }).finally(() => this.busy.delete(suggestion.id));
    return { work };
  }

  /** The refusal sentence when this user or chat has asked the helper too often, else undefined. */
  private overLimit(userId: string, chatId: number): string | undefined {
    const decision = this.deps.limiter?.take(userId, String(chatId));
    return decision && !decision.ok ? promptLimitMessage(decision, 'chat') : undefined;
  }

  private async fill(
    suggestion: Suggestion,
    image: Buffer,
    variant: number,
    edit: (text: string, markup?: InlineKeyboardMarkup) => Promise<unknown>,
  ): Promise<void> {
    try {
      suggestion.prompt = await this.deps.promptHelper!.suggest(image, { variant });
      suggestion.variant = variant;
    } catch (err) {
      const why = err instanceof PromptHelperError ? err.message : 'The prompt helper failed.';
      this.deps.log.warn({ err: describeApiError(err) }, 'prompt suggestion failed');
      await edit(`No suggestion this time: ${why}`);
      return;
    }
    this.remember(suggestion);
    const { signer } = this.deps;
    await edit(`Suggested prompt:\n${suggestion.prompt}`, {
      inline_keyboard: [
        [{ text: 'Animate with this prompt', callback_data: signer.encode({ action: 'prompt_use', subject: suggestion.id }) }],
        [{ text: 'Another suggestion', callback_data: signer.encode({ action: 'prompt_more', subject: suggestion.id }) }],
      ],
    });
  }

  private remember(suggestion: Suggestion): void {
    // Bounded by count and by bytes: the oldest are dropped first (they hold image bytes).
    this.byId.set(suggestion.id, suggestion, suggestion.image.length);
  }
}
