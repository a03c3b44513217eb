// A loopback fake of the Telegram Bot API, just big enough for the real telegraf client: long
// polling with offsets, messages and edits, multipart media uploads, getFile + the file download
// route, callback answers, commands and webhooks. Every call is recorded for assertions, and
// failures (429 with retry_after, any error, no answer at all) can be injected per method.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface UploadedFile {
  field: string;
  filename: string;
  bytes: Buffer;
}

export interface RecordedCall {
  /** Index in `calls`: compare with `mark()` to look only at calls made after a point. */
  seq: number;
  method: string;
  /** Parameters with JSON-looking multipart fields (reply_markup, media) decoded. */
  params: Record<string, unknown>;
  files: UploadedFile[];
  /** When the request was complete (body read). */
  at: number;
  /** When the request arrived (before its body was read): uploads in flight started before `at`. */
  startedAt: number;
  /** What the fake answered: ok, or the injected / natural error code. */
  ok: boolean;
  errorCode?: number;
  description?: string;
  /** The result the fake returned (e.g. the sent message). */
  result?: unknown;
}

export interface FakeUser {
  id: number;
  first_name: string;
  username?: string;
  is_bot?: boolean;
}

export interface FakeChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
}

export interface StoredFile {
  file_id: string;
  file_unique_id: string;
  file_size: number;
  file_path: string;
  bytes: Buffer;
}

export interface FakeMessage {
  message_id: number;
  date: number;
  chat: FakeChat;
  from?: FakeUser;
  /** Anonymous group admins and channel posts: the chat the message is sent on behalf of. */
  sender_chat?: FakeChat;
  text?: string;
  caption?: string;
  photo?: Array<{ file_id: string; file_unique_id: string; width: number; height: number; file_size?: number }>;
  document?: { file_id: string; file_unique_id: string; file_name?: string; mime_type?: string; file_size?: number };
  sticker?: Record<string, unknown>;
  animation?: Record<string, unknown>;
  video?: Record<string, unknown>;
  reply_to_message?: FakeMessage;
  /** Albums: every message of one media group shares it. */
  media_group_id?: string;
  reply_markup?: unknown;
  entities?: Array<{ type: string; offset: number; length: number }>;
  caption_entities?: Array<{ type: string; offset: number; length: number }>;
}

export type FakeUpdate = { update_id: number } & Record<string, unknown>;

interface Injected {
  method: string;
  errorCode: number;
  description: string;
  retryAfter?: number;
  times: number;
}

interface PendingPoll {
  offset: number;
  limit: number;
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

export interface FakeBotApiOptions {
  token: string;
  botUsername?: string;
  /** Seconds a getUpdates call may hang at most (telegraf asks for 50; tests want less). */
  maxPollSeconds?: number;
}

export class FakeBotApi {
  readonly calls: RecordedCall[] = [];
  /** Every update ever queued, in order (for re-delivery tests). */
  readonly pushedUpdates: FakeUpdate[] = [];
  readonly bot: FakeUser;
  readonly token: string;
  /** Messages the bot sent (or edited), by chat id then message id. */
  readonly messages = new Map<number, Map<number, FakeMessage>>();
  private readonly files = new Map<string, StoredFile>();
  private readonly updates: FakeUpdate[] = [];
  private readonly injected: Injected[] = [];
  private readonly stalls: Array<{ method: string; times: number }> = [];
  private polls: PendingPoll[] = [];
  private nextUpdateId = 1000;
  private nextMessageId = 1;
  private server?: Server;
  private readonly maxPollSeconds: number;
  private readonly waiters = new Set<() => void>();
  webhook?: { url: string; secret_token?: string };
  commands: unknown[] = [];

  constructor(opts: FakeBotApiOptions) {
    this.token = opts.token;
    this.maxPollSeconds = opts.maxPollSeconds ?? 1;
    this.bot = { id: Number(opts.token.split(':')[0]) || 1, first_name: 'RecurVid', username: opts.botUsername ?? 'RecurVidBot', is_bot: true };
  }

  get apiRoot(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('FakeBotApi is not started');
    return `http://127.0.0.1:${addr.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ ok: false, error_code: 500, description: String(err) }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const p of this.polls) {
      clearTimeout(p.timer);
      p.res.end(JSON.stringify({ ok: true, result: [] }));
    }
    this.polls = [];
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    this.server = undefined;
  }

  // ---- test-side helpers -------------------------------------------------------------------

  /**
   * Stores a file the bot can fetch with getFile; the reported size may be faked (to test limits),
   * and filePath may be absolute, as a self-hosted (--local) Bot API server reports it.
   */
  addFile(bytes: Buffer, opts: { reportedSize?: number; ext?: string; filePath?: string } = {}): StoredFile {
    const id = randomBytes(8).toString('hex');
    const file: StoredFile = {
      file_id: `F${id}`,
      file_unique_id: `U${id}`,
      file_size: opts.reportedSize ?? bytes.length,
      file_path: opts.filePath ?? `photos/file_${id}.${opts.ext ?? 'jpg'}`,
      bytes,
    };
    this.files.set(file.file_id, file);
    return file;
  }

  photoSizes(file: StoredFile, width = 640, height = 480): NonNullable<FakeMessage['photo']> {
    return [
      { file_id: `${file.file_id}_thumb`, file_unique_id: `${file.file_unique_id}_t`, width: 90, height: 68, file_size: 1000 },
      { file_id: file.file_id, file_unique_id: file.file_unique_id, width, height, file_size: file.file_size },
    ];
  }

  /** Builds a user message and queues it as an update; returns the message. */
  userMessage(from: FakeUser, chat: FakeChat, fields: Partial<FakeMessage>): FakeMessage {
    const message: FakeMessage = { message_id: this.nextMessageId++, date: Math.floor(Date.now() / 1000), chat, from, ...fields };
    const text = message.text ?? message.caption;
    const command = text && /^\/\S+/.exec(text);
    if (command) {
      const entity = [{ type: 'bot_command', offset: 0, length: command[0].length }];
      if (message.text !== undefined) message.entities = entity;
      else message.caption_entities = entity;
    }
    this.store(message);
    this.pushUpdate({ message });
    return message;
  }

  /** Queues a callback query as if `from` pressed a button with `data` on `message`. */
  pressButton(from: FakeUser, message: FakeMessage, data: string): string {
    const id = randomBytes(6).toString('hex');
    this.pushUpdate({ callback_query: { id, from, message, chat_instance: String(message.chat.id), data } });
    return id;
  }

  pushUpdate(body: Record<string, unknown>): FakeUpdate {
    const update = { update_id: this.nextUpdateId++, ...body } as FakeUpdate;
    this.updates.push(update);
    this.pushedUpdates.push(update);
    this.deliver();
    return update;
  }

  /** Delivers an update again with its original update_id (what Telegram does when a confirmation was lost). */
  redeliver(update: FakeUpdate): void {
    this.updates.push({ ...update, __redelivered: true });
    this.deliver();
  }

  /** The next `times` calls of `method` fail; 429 carries parameters.retry_after. */
  inject(method: string, errorCode: number, description: string, opts: { retryAfter?: number; times?: number } = {}): void {
    this.injected.push({ method, errorCode, description, retryAfter: opts.retryAfter, times: opts.times ?? 1 });
  }

  /** The next `times` calls of `method` get no answer at all (a hung connection), until the fake stops. */
  stall(method: string, times = 1): void {
    this.stalls.push({ method, times });
  }

  /** A point in the call log; calls made later have `seq >= mark()`. */
  mark(): number {
    return this.calls.length;
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves once `predicate` holds (re-checked after every call), or rejects after `timeoutMs`. */
  async waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const first = predicate();
    if (first) return first;
    return await new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = predicate();
        if (value) {
          cleanup();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`FakeBotApi: timed out waiting for ${what}; calls: ${this.calls.map((c) => c.method).join(', ')}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Waits for a call of `method` matching `match` (among all calls so far and to come). */
  waitForCall(method: string, match: (c: RecordedCall) => boolean = () => true, timeoutMs = 10_000): Promise<RecordedCall> {
    return this.waitFor(() => this.calls.find((c) => c.method === method && c.ok && match(c)), timeoutMs, `${method}`);
  }

  /** The message a successful send call created. */
  sentMessage(call: RecordedCall): FakeMessage {
    const message = call.result as FakeMessage | undefined;
    if (!message?.message_id) throw new Error(`${call.method} returned no message`);
    return message;
  }

  message(chatId: number, messageId: number): FakeMessage | undefined {
    return this.messages.get(chatId)?.get(messageId);
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    res.setHeader('content-type', 'application/json');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const fileMatch = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (fileMatch) return this.serveFile(fileMatch[1]!, fileMatch[2]!, res);
    const apiMatch = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!apiMatch) return this.reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (apiMatch[1] !== this.token) return this.reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = apiMatch[2]!;
    const { params, files } = await readParams(req, url);
    const call: RecordedCall = { seq: this.calls.length, method, params, files, at: Date.now(), startedAt, ok: true };
    this.calls.push(call);

    const stalled = this.stalls.find((st) => st.method === method && st.times > 0);
    if (stalled) {
      stalled.times--;
      call.ok = false;
      call.description = 'stalled (no answer)';
      this.notify();
      return; // the response is never ended; stop() closes the connection
    }

    const injected = this.injected.find((i) => i.method === method && i.times > 0);
    if (injected) {
      injected.times--;
      call.ok = false;
      call.errorCode = injected.errorCode;
      call.description = injected.description;
      this.notify();
      const parameters = injected.retryAfter !== undefined ? { retry_after: injected.retryAfter } : undefined;
      return this.reply(res, injected.errorCode, { ok: false, error_code: injected.errorCode, description: injected.description, parameters });
    }

    if (method === 'getUpdates') return this.getUpdates(params, res, call);
    let result: unknown;
    try {
      result = this.handle(method, params, files);
    } catch (err) {
      const e = err as ApiError;
      call.ok = false;
      call.errorCode = e.code ?? 400;
      call.description = e.message;
      this.notify();
      return this.reply(res, call.errorCode, { ok: false, error_code: call.errorCode, description: e.message });
    }
    call.result = result;
    this.notify();
    this.reply(res, 200, { ok: true, result });
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    res.statusCode = status;
    res.end(JSON.stringify(body));
  }

  private serveFile(token: string, path: string, res: ServerResponse): void {
    this.calls.push({ seq: this.calls.length, method: 'downloadFile', params: { path }, files: [], at: Date.now(), startedAt: Date.now(), ok: token === this.token });
    this.notify();
    const file = [...this.files.values()].find((f) => f.file_path === path);
    if (token !== this.token || !file) {
      this.reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', String(file.bytes.length));
    res.statusCode = 200;
    res.end(file.bytes);
  }

  private getUpdates(params: Record<string, unknown>, res: ServerResponse, call: RecordedCall): void {
    const offset = Number(params.offset ?? 0);
    const limit = Number(params.limit ?? 100);
    const timeout = Math.min(Number(params.timeout ?? 0), this.maxPollSeconds);
    this.confirm(offset);
    const ready = this.pending(offset, limit);
    this.notify();
    if (ready.length > 0 || timeout <= 0) {
      this.reply(res, 200, { ok: true, result: ready });
      return;
    }
    const poll: PendingPoll = {
      offset,
      limit,
      res,
      timer: setTimeout(() => this.finishPoll(poll), timeout * 1000),
    };
    res.on('close', () => {
      clearTimeout(poll.timer);
      this.polls = this.polls.filter((p) => p !== poll);
    });
    this.polls.push(poll);
    void call;
  }

  /** Updates below the offset are confirmed and forgotten (redelivered copies excepted until sent). */
  private confirm(offset: number): void {
    for (let i = this.updates.length - 1; i >= 0; i--) {
      const u = this.updates[i]!;
      if (u.update_id < offset && !u.__redelivered) this.updates.splice(i, 1);
    }
  }

  /** Updates to hand out; redelivered copies are handed out once (removed when `take`). */
  private pending(offset: number, limit: number, take = true): FakeUpdate[] {
    const out: FakeUpdate[] = [];
    for (let i = 0; i < this.updates.length && out.length < limit; i++) {
      const u = this.updates[i]!;
      if (u.__redelivered) {
        if (take) this.updates.splice(i--, 1);
        const { __redelivered: _dropped, ...clean } = u;
        out.push(clean as FakeUpdate);
      } else if (u.update_id >= offset) out.push(u);
    }
    return out;
  }

  private finishPoll(poll: PendingPoll): void {
    clearTimeout(poll.timer);
    this.polls = this.polls.filter((p) => p !== poll);
    if (!poll.res.writableEnded) this.reply(poll.res, 200, { ok: true, result: this.pending(poll.offset, poll.limit) });
  }

  private deliver(): void {
    for (const poll of [...this.polls]) if (this.pending(poll.offset, 1, false).length > 0) this.finishPoll(poll);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private store(message: FakeMessage): void {
    let chat = this.messages.get(message.chat.id);
    if (!chat) this.messages.set(message.chat.id, (chat = new Map()));
    chat.set(message.message_id, message);
  }

  private chatOf(id: unknown): FakeChat {
    const n = Number(id);
    if (!Number.isFinite(n)) throw new ApiError(400, 'Bad Request: chat not found');
    return { id: n, type: n < 0 ? 'supergroup' : 'private' };
  }

  private botMessage(params: Record<string, unknown>, fields: Partial<FakeMessage>): FakeMessage {
    const chat = this.chatOf(params.chat_id);
    const message: FakeMessage = {
      message_id: this.nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat,
      from: this.bot,
      ...fields,
      ...(params.reply_markup ? { reply_markup: params.reply_markup } : {}),
    };
    this.store(message);
    return message;
  }

  private existing(params: Record<string, unknown>): FakeMessage {
    const message = this.message(Number(params.chat_id), Number(params.message_id));
    if (!message) throw new ApiError(400, 'Bad Request: message to edit not found');
    return message;
  }

  private uploadedVideo(files: UploadedFile[], field: string): Record<string, unknown> {
    const file = files.find((f) => f.field === field);
    if (!file) throw new ApiError(400, `Bad Request: there is no video in the request (field ${field})`);
    const stored = this.addFile(file.bytes, { ext: 'mp4' });
    return { file_id: stored.file_id, file_unique_id: stored.file_unique_id, file_size: file.bytes.length, duration: 1, width: 64, height: 64, file_name: file.filename };
  }

  private handle(method: string, params: Record<string, unknown>, files: UploadedFile[]): unknown {
    switch (method) {
      case 'getMe':
        return { ...this.bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
      case 'deleteWebhook':
        this.webhook = undefined;
        return true;
      case 'setWebhook':
        this.webhook = { url: String(params.url), secret_token: params.secret_token as string | undefined };
        return true;
      case 'setMyCommands':
        this.commands = params.commands as unknown[];
        return true;
      case 'answerCallbackQuery':
      case 'sendChatAction':
        return true;
      case 'sendMessage':
        if (typeof params.text !== 'string' || params.text.trim() === '') throw new ApiError(400, 'Bad Request: message text is empty');
        checkLength(params.text, TEXT_LIMIT, 'message is too long');
        return this.botMessage(params, { text: params.text });
      case 'editMessageText': {
        checkLength(params.text, TEXT_LIMIT, 'message is too long');
        const message = this.existing(params);
        const sameMarkup = JSON.stringify(message.reply_markup ?? null) === JSON.stringify(params.reply_markup ?? null);
        if (message.text === params.text && sameMarkup) {
          throw new ApiError(400, 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
        }
        message.text = String(params.text);
        message.reply_markup = params.reply_markup;
        return message;
      }
      case 'editMessageReplyMarkup': {
        const message = this.existing(params);
        message.reply_markup = params.reply_markup;
        return message;
      }
      case 'deleteMessage':
        this.messages.get(Number(params.chat_id))?.delete(Number(params.message_id));
        return true;
      case 'sendVideo': {
        checkLength(params.caption, CAPTION_LIMIT, 'message caption is too long');
        const video = this.uploadedVideo(files, 'video');
        return this.botMessage(params, { video, caption: params.caption as string | undefined });
      }
      case 'sendDocument': {
        checkLength(params.caption, CAPTION_LIMIT, 'message caption is too long');
        const file = files.find((f) => f.field === 'document');
        if (!file) throw new ApiError(400, 'Bad Request: there is no document in the request');
        const stored = this.addFile(file.bytes, { ext: 'mp4' });
        const document = { file_id: stored.file_id, file_unique_id: stored.file_unique_id, file_size: file.bytes.length, file_name: file.filename };
        return this.botMessage(params, { document, caption: params.caption as string | undefined });
      }
      case 'editMessageMedia': {
        const message = this.existing(params);
        if (!message.video) throw new ApiError(400, 'Bad Request: there is no media in the message to edit');
        const media = params.media as { type?: string; media?: string; caption?: string };
        checkLength(media?.caption, CAPTION_LIMIT, 'message caption is too long');
        const field = typeof media?.media === 'string' && media.media.startsWith('attach://') ? media.media.slice('attach://'.length) : '';
        message.video = this.uploadedVideo(files, field);
        message.caption = media.caption;
        message.reply_markup = params.reply_markup;
        return message;
      }
      case 'getFile': {
        const file = this.files.get(String(params.file_id));
        if (!file) throw new ApiError(400, 'Bad Request: invalid file_id');
        // Like Telegram: no download link for files over 20 MB.
        if (file.file_size > 20 * 1024 * 1024) throw new ApiError(400, 'Bad Request: file is too big');
        return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size, file_path: file.file_path };
      }
      default:
        throw new ApiError(404, `Not Found: method ${method} is not implemented by the fake`);
    }
  }
}

// The Bot API's limits on what a bot sends (UTF-16 code units, as Telegram counts them): longer
// text is refused outright, never cut, so a bot that forgets to fit it fails here as it would live.
const TEXT_LIMIT = 4096;
const CAPTION_LIMIT = 1024;

function checkLength(value: unknown, limit: number, description: string): void {
  if (typeof value === 'string' && value.length > limit) throw new ApiError(400, `Bad Request: ${description}`);
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const JSON_FIELDS = new Set(['reply_markup', 'media', 'commands', 'allowed_updates', 'reply_parameters', 'link_preview_options', 'scope']);

/** Reads query, JSON, urlencoded or multipart parameters (multipart parsed by undici's FormData). */
async function readParams(req: IncomingMessage, url: URL): Promise<{ params: Record<string, unknown>; files: UploadedFile[] }> {
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const files: UploadedFile[] = [];
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const type = req.headers['content-type'] ?? '';
  if (body.length === 0) return { params, files };
  if (type.startsWith('application/json')) {
    Object.assign(params, JSON.parse(body.toString('utf8')) as Record<string, unknown>);
  } else if (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded')) {
    const form = await new Response(body, { headers: { 'content-type': type } }).formData();
    for (const [key, value] of form) {
      if (typeof value === 'string') {
        params[key] = JSON_FIELDS.has(key) ? safeJson(value) : value;
      } else {
        files.push({ field: key, filename: (value as File).name, bytes: Buffer.from(await value.arrayBuffer()) });
      }
    }
  }
  return { params, files };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startFakeBotApi(opts: FakeBotApiOptions): Promise<FakeBotApi> {
  return await new FakeBotApi(opts).start();
}
