// Who sent a Telegram message, for limits, fairness and ownership. Anonymous group admins and
// people posting as a channel all arrive with the same placeholder `from` (GroupAnonymousBot, or
// the channel bot), so `from.id` would make them one user sharing one job limit and able to cancel
// each other's jobs; the chat they post as (`sender_chat`) is what tells them apart.
import type { Message } from 'telegraf/types';

export interface Sender {
  id: string;
  name: string;
}

export function senderOf(message: Pick<Message, 'from'> & { sender_chat?: { id: number; title?: string; username?: string } }): Sender {
  const chat = message.sender_chat;
  // Chat ids are negative and user ids positive, so the two never collide.
  if (chat) return { id: String(chat.id), name: chat.username ?? chat.title ?? `chat ${chat.id}` };
  const from = message.from;
  if (!from) return { id: 'unknown', name: 'someone' };
  return { id: String(from.id), name: from.username ?? from.first_name };
}
