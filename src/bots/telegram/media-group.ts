// Albums (media groups) arrive as one message per photo, sharing a media_group_id; only one of them
// carries the caption. To read "/animate" on an album as start + end image we remember the photos of
// recent groups and, when the command arrives, wait a moment for the rest of the album to land.
import type { Message } from 'telegraf/types';
import { imageFromMessage, type ImageLookup } from './media.ts';

/** How long an album's photos are remembered (a reply to an album can come later). */
const KEEP_MS = 30 * 60_000;
const MAX_GROUPS = 500;

interface Group {
  seenAt: number;
  messages: Map<number, Message>;
}

export class MediaGroups {
  private readonly groups = new Map<string, Group>();

  constructor(
    /** How long to wait after the last album message before reading the album. */
    private readonly settleMs = 1200,
    private readonly now: () => number = Date.now,
  ) {}

  /** Call for every incoming message; anything outside an album is ignored. */
  remember(message: Message): void {
    const id = groupIdOf(message);
    if (!id) return;
    const at = this.now();
    for (const [key, g] of this.groups) if (at - g.seenAt > KEEP_MS || this.groups.size > MAX_GROUPS) this.groups.delete(key);
    const group = this.groups.get(id) ?? { seenAt: at, messages: new Map() };
    group.seenAt = at;
    group.messages.set(message.message_id, message);
    this.groups.set(id, group);
  }

  /** The album's messages in sending order, once no new one arrived for `settleMs`. */
  async collect(groupId: string): Promise<Message[]> {
    for (;;) {
      const group = this.groups.get(groupId);
      const quietFor = group ? this.now() - group.seenAt : Infinity;
      if (quietFor >= this.settleMs) break;
      await new Promise((r) => setTimeout(r, Math.max(10, this.settleMs - quietFor)));
    }
    const group = this.groups.get(groupId);
    return group ? [...group.messages.values()].sort((a, b) => a.message_id - b.message_id) : [];
  }
}

export function groupIdOf(message: Message | undefined): string | undefined {
  return message && 'media_group_id' in message && typeof message.media_group_id === 'string' ? message.media_group_id : undefined;
}

/** Start and end image of an album: exactly two photos/images, the first sent is the start. */
export function albumImages(messages: readonly Message[], maxBytes: number): { ok: true; start: ImageLookup; end: ImageLookup } | { ok: false; message: string } {
  if (messages.length !== 2) {
    return {
      ok: false,
      message: `An album for /animate needs exactly two images, the start then the end frame (this one has ${messages.length}).`,
    };
  }
  const [start, end] = messages.map((m) => imageFromMessage(m, maxBytes) ?? { ok: false as const, message: 'One album item is not an image.' });
  return { ok: true, start: start!, end: end! };
}
