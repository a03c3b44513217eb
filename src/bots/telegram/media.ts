// Finds the image a command refers to (the message itself, else the message it replies to) and
// turns everything that is not a still image into a clear refusal before anything is downloaded.
import type { Message } from 'telegraf/types';
import { formatMB } from './limits.ts';

export interface ImageRef {
  fileId: string;
  fileUniqueId: string;
  /** Size Telegram reports; may be missing. */
  fileSize?: number;
  fileName: string;
  /** The message that carries the image. */
  messageId: number;
}

export type ImageLookup = { ok: true; image: ImageRef } | { ok: false; message: string };

export const NO_IMAGE_MESSAGE =
  'I need a photo. Send a photo with the caption /animate [prompt], or reply /animate to a message with a photo.';

/** Looks in the message first, then in the message it replies to. */
export function findImage(message: Message, maxDownloadBytes: number): ImageLookup {
  const own = fromMessage(message, maxDownloadBytes);
  if (own) return own;
  const replied = 'reply_to_message' in message ? message.reply_to_message : undefined;
  if (replied) {
    const fromReply = fromMessage(replied as Message, maxDownloadBytes);
    if (fromReply) return fromReply;
  }
  return { ok: false, message: NO_IMAGE_MESSAGE };
}

/** An ImageLookup when the message carries media of any kind, undefined when it has none. */
export function imageFromMessage(message: Message, maxBytes: number): ImageLookup | undefined {
  return fromMessage(message, maxBytes);
}

/**
 * Start and optional end image of a non-album /animate: a photo captioned /animate that REPLIES to
 * another photo means "from the replied photo to this one" (start = replied, end = own); otherwise
 * the single image is found as findImage does.
 */
export function findStartAndEnd(message: Message, maxDownloadBytes: number): { start: ImageLookup; end?: ImageLookup } {
  const replied = 'reply_to_message' in message ? (message.reply_to_message as Message | undefined) : undefined;
  const own = fromMessage(message, maxDownloadBytes);
  const fromReply = replied ? fromMessage(replied, maxDownloadBytes) : undefined;
  if (own && fromReply) return { start: fromReply, end: own };
  return { start: findImage(message, maxDownloadBytes) };
}

function fromMessage(message: Message, maxBytes: number): ImageLookup | undefined {
  if ('photo' in message && message.photo.length > 0) {
    // Sizes come smallest first; the last is the original resolution.
    const best = message.photo[message.photo.length - 1]!;
    return sized({ fileId: best.file_id, fileUniqueId: best.file_unique_id, fileSize: best.file_size, fileName: 'photo.jpg', messageId: message.message_id }, maxBytes);
  }
  if ('sticker' in message) {
    return { ok: false, message: 'Stickers cannot be animated. Please send a photo (or an image file).' };
  }
  if ('animation' in message) {
    return { ok: false, message: 'That is an animation (GIF). Please send a still photo or image file.' };
  }
  if ('video' in message || 'video_note' in message) {
    return { ok: false, message: 'That is a video. Please send a still photo or image file.' };
  }
  if ('document' in message) {
    const doc = message.document;
    const mime = doc.mime_type ?? '';
    if (mime === 'image/gif') return { ok: false, message: 'That is a GIF. Please send a still photo or image file (PNG, JPEG or WebP).' };
    if (!mime.startsWith('image/')) {
      return { ok: false, message: `That file (${doc.file_name ?? mime ?? 'document'}) is not an image. Please send a photo or an image file (PNG, JPEG or WebP).` };
    }
    return sized({ fileId: doc.file_id, fileUniqueId: doc.file_unique_id, fileSize: doc.file_size, fileName: doc.file_name ?? 'image', messageId: message.message_id }, maxBytes);
  }
  if ('audio' in message || 'voice' in message) {
    return { ok: false, message: 'That is audio, not an image. Please send a photo.' };
  }
  return undefined;
}

function sized(image: ImageRef, maxBytes: number): ImageLookup {
  if (image.fileSize !== undefined && image.fileSize > maxBytes) {
    return {
      ok: false,
      message: `That file is ${formatMB(image.fileSize)}; bots can only download files up to ${formatMB(maxBytes)}. Please send a smaller image (sending it as a photo compresses it).`,
    };
  }
  return { ok: true, image };
}
