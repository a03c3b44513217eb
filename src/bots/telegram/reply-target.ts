// The job's reply target holds the Telegram ids we need to answer, as strings (the queue's
// contract): the chat, its type (for the edit rate), the request and the status message, and
// the preview video message once there is one. It survives restarts with the job.
import type { ReplyTarget } from '../../queue/types.ts';

export type ChatKind = 'private' | 'group' | 'supergroup' | 'channel';

export interface TelegramReply {
  chatId: number;
  chatType: ChatKind;
  statusMessageId: number;
  requestMessageId?: number;
  videoMessageId?: number;
}

export function writeReplyTarget(reply: TelegramReply): ReplyTarget {
  const target: ReplyTarget = {
    chatId: String(reply.chatId),
    chatType: reply.chatType,
    statusMessageId: String(reply.statusMessageId),
  };
  if (reply.requestMessageId !== undefined) target.requestMessageId = String(reply.requestMessageId);
  if (reply.videoMessageId !== undefined) target.videoMessageId = String(reply.videoMessageId);
  return target;
}

/** The Telegram reply ids, or undefined when the target lacks them (e.g. a job from another adapter). */
export function readReplyTarget(target: ReplyTarget): TelegramReply | undefined {
  const chatId = Number(target.chatId);
  const statusMessageId = Number(target.statusMessageId);
  if (!Number.isSafeInteger(chatId) || !Number.isSafeInteger(statusMessageId) || !target.chatId || !target.statusMessageId) return undefined;
  const optional = (value: string | undefined): number | undefined => {
    const n = Number(value);
    return value && Number.isSafeInteger(n) ? n : undefined;
  };
  const kinds: ChatKind[] = ['private', 'group', 'supergroup', 'channel'];
  return {
    chatId,
    chatType: kinds.includes(target.chatType as ChatKind) ? (target.chatType as ChatKind) : 'group',
    statusMessageId,
    requestMessageId: optional(target.requestMessageId),
    videoMessageId: optional(target.videoMessageId),
  };
}
