// Edits a job's status message wherever it can still be reached. While the interaction token is
// fresh we edit through the interaction webhook; tokens die after 15 minutes, so later edits go
// through the channel message route with the bot token, and if even that message is out of reach
// (ephemeral, deleted, no access) a new channel message takes over as the status message.
import { DiscordAPIError, HTTPError, RateLimitError, Routes, type REST, type APIMessage, type APIActionRowComponent, type APIComponentInMessageActionRow } from 'discord.js';
import type { ReplyTarget } from '../../queue/types.ts';
import { DEFAULT_UPLOAD_LIMIT } from './settings.ts';

/** Interaction tokens live 15 minutes; stop using them a little earlier to avoid racing expiry. */
export const TOKEN_SAFE_MS = 14 * 60_000;

export interface StatusTarget {
  channelId: string;
  messageId: string;
  /** Interaction webhook credentials, while the status message is an interaction response. */
  appId?: string;
  token?: string;
  tokenAt?: number;
  uploadLimit: number;
}

export interface OutgoingFile {
  name: string;
  data: Buffer;
  contentType: string;
}

export type MessageRow = APIActionRowComponent<APIComponentInMessageActionRow>;

export interface StatusEdit {
  content: string;
  components: MessageRow[];
  /** Absent: leave the message's attachments alone. Present: exactly these stay (kept ids + uploads). */
  attachments?: { keep: string[]; upload: OutgoingFile[] };
}

export interface EditOutcome {
  target: StatusTarget;
  /** The message's attachments after the edit. */
  attachments: Array<{ id: string; filename: string }>;
  route: 'webhook' | 'channel' | 'new-message';
}

export function targetFromReply(reply: ReplyTarget): StatusTarget | undefined {
  if (!reply.channelId || !reply.messageId) return undefined;
  const tokenAt = Number(reply.tokenAt);
  return {
    channelId: reply.channelId,
    messageId: reply.messageId,
    ...(reply.token && reply.appId && Number.isFinite(tokenAt) ? { token: reply.token, appId: reply.appId, tokenAt } : {}),
    uploadLimit: Number(reply.uploadLimit) > 0 ? Number(reply.uploadLimit) : DEFAULT_UPLOAD_LIMIT,
  };
}

export function replyFromTarget(t: StatusTarget): ReplyTarget {
  return {
    channelId: t.channelId,
    messageId: t.messageId,
    appId: t.appId ?? '',
    token: t.token ?? '',
    tokenAt: t.tokenAt === undefined ? '' : String(t.tokenAt),
    uploadLimit: String(t.uploadLimit),
  };
}

export class StatusMessenger {
  constructor(
    private readonly rest: REST,
    private readonly now: () => number,
  ) {}

  async edit(target: StatusTarget, edit: StatusEdit): Promise<EditOutcome> {
    if (this.tokenUsable(target)) {
      try {
        const msg = await this.send('PATCH', Routes.webhookMessage(target.appId!, target.token!, '@original'), edit, false);
        return { target, attachments: attachmentsOf(msg), route: 'webhook' };
      } catch (err) {
        if (!isTokenGone(err)) throw err;
      }
    }
    const withoutToken: StatusTarget = { channelId: target.channelId, messageId: target.messageId, uploadLimit: target.uploadLimit };
    try {
      const msg = await this.send('PATCH', Routes.channelMessage(target.channelId, target.messageId), edit, true);
      return { target: withoutToken, attachments: attachmentsOf(msg), route: 'channel' };
    } catch (err) {
      if (!isMessageUnreachable(err)) throw err;
    }
    // The old message is gone or not ours to edit: start a new status message in the channel.
    // Kept attachment ids belonged to the old message, so only new uploads go along.
    const upload = edit.attachments?.upload ?? [];
    const msg = await this.send('POST', Routes.channelMessages(target.channelId), { ...edit, attachments: { keep: [], upload } }, true);
    return { target: { ...withoutToken, messageId: msg.id }, attachments: attachmentsOf(msg), route: 'new-message' };
  }

  private tokenUsable(t: StatusTarget): boolean {
    return t.token !== undefined && t.appId !== undefined && t.tokenAt !== undefined && this.now() - t.tokenAt < TOKEN_SAFE_MS;
  }

  private async send(method: 'PATCH' | 'POST', route: `/${string}`, edit: StatusEdit, auth: boolean): Promise<APIMessage> {
    const body: Record<string, unknown> = {
      content: edit.content,
      components: edit.components,
      allowed_mentions: { parse: [] },
    };
    const upload = edit.attachments?.upload ?? [];
    if (edit.attachments) {
      body.attachments = [
        ...edit.attachments.keep.map((id) => ({ id })),
        ...upload.map((f, index) => ({ id: index, filename: f.name })),
      ];
    }
    // auth:false on webhook routes: a 401 for an expired interaction token must not make
    // @discordjs/rest drop the bot token.
    const options = { body, auth, ...(upload.length ? { files: upload.map((f) => ({ name: f.name, data: f.data, contentType: f.contentType })) } : {}) };
    const result = method === 'PATCH' ? await this.rest.patch(route, options) : await this.rest.post(route, options);
    return result as APIMessage;
  }
}

function attachmentsOf(msg: APIMessage): Array<{ id: string; filename: string }> {
  return (msg.attachments ?? []).map((a) => ({ id: a.id, filename: a.filename }));
}

function apiCode(err: unknown): { status: number; code: number | string } | undefined {
  return err instanceof DiscordAPIError ? { status: err.status, code: err.code } : undefined;
}

/** Invalid Webhook Token (50027), Unknown Webhook (10015): the interaction token is no longer usable. */
export function isTokenGone(err: unknown): boolean {
  const e = apiCode(err);
  return e !== undefined && (e.code === 50027 || e.code === 10015 || e.status === 401);
}

/** Unknown Message/Channel, Missing Access, Cannot edit another user's message. */
export function isMessageUnreachable(err: unknown): boolean {
  const e = apiCode(err);
  return e !== undefined && (e.code === 10008 || e.code === 10003 || e.code === 50001 || e.code === 50005 || e.status === 403 || e.status === 404);
}

/** Request entity too large (40005) or HTTP 413: the upload exceeded the limit. */
export function isTooLarge(err: unknown): boolean {
  const e = apiCode(err);
  return e !== undefined && (e.code === 40005 || e.status === 413);
}

/** A Discord failure worth another try: network errors, timeouts, rate limits, HTTP 5xx. */
export function isTransientDiscord(err: unknown): boolean {
  if (err instanceof DiscordAPIError || err instanceof HTTPError) return err.status >= 500;
  if (err instanceof RateLimitError) return true;
  return err instanceof Error && !(err.name === 'VideoTooLargeError');
}

/**
 * "PATCH /webhooks/1/[token]/messages/@original → 413 40005 Request entity too large": the method
 * and route that failed, for logs. Interaction tokens in the route are masked.
 */
export function describeDiscordError(err: unknown): string {
  if (err instanceof DiscordAPIError || err instanceof HTTPError || err instanceof RateLimitError) {
    let route = err.url;
    try {
      route = decodeURIComponent(new URL(err.url).pathname).replace(/^\/api(\/v\d+)?/, '');
    } catch {
      /* keep it as it is */
    }
    route = route.replace(/\/webhooks\/(\d+)\/[^/?]+/, '/webhooks/$1/[token]');
    const status = err instanceof RateLimitError ? '429' : `${err.status}${err instanceof DiscordAPIError ? ` ${err.code}` : ''}`;
    return `${err.method.toUpperCase()} ${route} → ${status} ${err.message.replace(/\/webhooks\/(\d+)\/[^/?\s]+/g, '/webhooks/$1/[token]')}`;
  }
  return err instanceof Error ? err.message : String(err);
}
