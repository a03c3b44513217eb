// A loopback fake of the parts of Discord a bot uses: the REST API (v10) and the gateway
// (WebSocket, JSON encoding, no compression). It records every REST call, keeps messages and their
// attachments, serves attachment URLs, expires interaction tokens after 15 minutes of its own
// (fakeable) clock, and can inject failures such as 429s.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { snowflake } from './snowflake.ts';
import {
  ApplicationCommandType,
  InteractionType,
  makeMember,
  makeMessage,
  makeUser,
  type FakeAttachment,
  type FakeMessage,
  type FakeUser,
  type SlashOption,
} from './payloads.ts';

export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface RecordedCall {
  method: string;
  /** Path after /api/v10, without the query string. */
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  /** JSON body, or the parsed payload_json of a multipart body. */
  body: Record<string, unknown> | undefined;
  files: UploadedFile[];
  status: number;
  /** Real wall-clock time the request arrived (performance.now()). */
  at: number;
}

export interface InjectedFailure {
  /** Decides per request; `call` carries the parsed body and uploaded files. */
  match: (method: string, path: string, call: RecordedCall) => boolean;
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  /** How many matching requests fail (default 1). */
  times?: number;
}

interface InteractionRecord {
  id: string;
  token: string;
  issuedAt: number;
  channelId: string;
  guildId?: string;
  acknowledged: boolean;
  originalId?: string;
  attachmentSizeLimit: number;
  ephemeralOriginal: boolean;
}

export interface FakeDiscordOptions {
  heartbeatIntervalMs?: number;
  /** Allowed lateness of the first interaction response (Discord: 3 s). */
  ackDeadlineMs?: number;
}

const TOKEN_LIFETIME_MS = 15 * 60_000;
const DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024;

export class FakeDiscord {
  readonly appId = snowflake();
  readonly botUser: FakeUser = makeUser('RecurVid', { bot: true });
  readonly guildId = snowflake();
  readonly channelId = snowflake();
  readonly dmChannelId = snowflake();
  readonly calls: RecordedCall[] = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly attachmentBytes = new Map<string, Buffer>();
  /** Ids of attachments fetched from the CDN route, in order (tests check what was downloaded). */
  readonly attachmentDownloads: string[] = [];
  readonly identifies: Array<Record<string, unknown>> = [];
  heartbeats = 0;
  /** Interaction responses that arrived after the deadline. */
  lateAcks: string[] = [];
  private clockOffset = 0;
  private readonly interactions = new Map<string, InteractionRecord>();
  private readonly byToken = new Map<string, InteractionRecord>();
  private readonly sockets = new Set<WebSocket>();
  private readonly failures: InjectedFailure[] = [];
  private readonly callWaiters = new Set<() => void>();
  private readonly heartbeatIntervalMs: number;
  private readonly ackDeadlineMs: number;
  private seq = 0;
  private http!: Server;
  private wss!: WebSocketServer;
  private port = 0;
  commands: { global: unknown[]; guild: Map<string, unknown[]> } = { global: [], guild: new Map() };

  private constructor(opts: FakeDiscordOptions) {
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 2_000;
    this.ackDeadlineMs = opts.ackDeadlineMs ?? 3_000;
  }

  static async start(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const fake = new FakeDiscord(opts);
    await fake.listen();
    return fake;
  }

  get apiBase(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }

  /** The fake's clock: real time plus whatever advance() added (used for token expiry). */
  now(): number {
    return Date.now() + this.clockOffset;
  }

  advance(ms: number): void {
    this.clockOffset += ms;
  }

  failNext(failure: InjectedFailure): void {
    this.failures.push({ times: 1, ...failure });
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  // ---- test-side helpers -------------------------------------------------------------------

  /** Stores bytes behind an attachment URL, as Discord's CDN would. */
  addAttachment(filename: string, bytes: Buffer, meta: { contentType?: string; width?: number; height?: number; size?: number } = {}): FakeAttachment {
    const id = snowflake();
    this.attachmentBytes.set(id, bytes);
    const url = `http://127.0.0.1:${this.port}/attachments/${this.channelId}/${id}/${encodeURIComponent(filename)}`;
    return {
      id,
      filename,
      size: meta.size ?? bytes.length,
      url,
      proxy_url: url,
      ...(meta.contentType ? { content_type: meta.contentType } : {}),
      ...(meta.width ? { width: meta.width, height: meta.height } : {}),
    };
  }

  /** A user's message, stored (so GET works) but not dispatched. */
  addUserMessage(author: FakeUser, fields: Partial<FakeMessage> = {}): FakeMessage {
    const msg = makeMessage({ channel_id: this.channelId, guild_id: this.guildId, author, ...fields });
    this.messages.set(msg.id, msg);
    return msg;
  }

  dispatch(t: string, d: unknown): void {
    this.seq += 1;
    const frame = JSON.stringify({ op: 0, t, s: this.seq, d });
    for (const ws of this.sockets) ws.send(frame);
  }

  /** Dispatches MESSAGE_CREATE for a stored or new message. */
  sendMessage(msg: FakeMessage): void {
    this.messages.set(msg.id, msg);
    const member = msg.guild_id ? { member: { ...makeMember(msg.author), user: undefined } } : {};
    this.dispatch('MESSAGE_CREATE', { ...msg, ...member });
  }

  /** Dispatches INTERACTION_CREATE; returns the interaction id and token. */
  sendInteraction(
    user: FakeUser,
    type: number,
    data: Record<string, unknown> | undefined,
    extra: { message?: FakeMessage; dm?: boolean; attachmentSizeLimit?: number } = {},
  ): { id: string; token: string } {
    const id = snowflake();
    const token = `itok_${id}_${Math.random().toString(36).slice(2)}`;
    const dm = extra.dm === true;
    const channelId = dm ? this.dmChannelId : this.channelId;
    const rec: InteractionRecord = {
      id,
      token,
      issuedAt: this.now(),
      channelId,
      ...(dm ? {} : { guildId: this.guildId }),
      acknowledged: false,
      attachmentSizeLimit: extra.attachmentSizeLimit ?? DEFAULT_UPLOAD_LIMIT,
      ephemeralOriginal: false,
    };
    this.interactions.set(id, rec);
    this.byToken.set(token, rec);
    const payload: Record<string, unknown> = {
      id,
      application_id: this.appId,
      type,
      token,
      version: 1,
      channel_id: channelId,
      channel: dm
        ? { id: channelId, type: 1, recipients: [user], flags: 0 }
        : { id: channelId, type: 0, guild_id: this.guildId, name: 'general', position: 0, flags: 0, permissions: '2248473465835073' },
      locale: 'en-US',
      app_permissions: '2248473465835073',
      entitlements: [],
      authorizing_integration_owners: { '0': this.guildId },
      context: dm ? 1 : 0,
      attachment_size_limit: rec.attachmentSizeLimit,
      ...(data ? { data } : {}),
      ...(extra.message ? { message: extra.message } : {}),
      ...(dm ? { user } : { guild_id: this.guildId, guild_locale: 'en-US', member: makeMember(user), guild: { id: this.guildId, locale: 'en-US', features: [] } }),
    };
    this.dispatch('INTERACTION_CREATE', payload);
    return { id, token };
  }

  slash(
    user: FakeUser,
    name: string,
    options: SlashOption[] = [],
    attachments: FakeAttachment[] = [],
    extra: { dm?: boolean; attachmentSizeLimit?: number } = {},
  ): { id: string; token: string } {
    const resolved = attachments.length ? { attachments: Object.fromEntries(attachments.map((a) => [a.id, a])) } : undefined;
    return this.sendInteraction(
      user,
      InteractionType.ApplicationCommand,
      { id: snowflake(), name, type: ApplicationCommandType.ChatInput, options, ...(resolved ? { resolved } : {}) },
      extra,
    );
  }

  messageCommand(user: FakeUser, name: string, target: FakeMessage): { id: string; token: string } {
    return this.sendInteraction(user, InteractionType.ApplicationCommand, {
      id: snowflake(),
      name,
      type: ApplicationCommandType.Message,
      target_id: target.id,
      resolved: { messages: { [target.id]: target } },
    });
  }

  pressButton(user: FakeUser, message: FakeMessage, customId: string): { id: string; token: string } {
    return this.sendInteraction(user, InteractionType.MessageComponent, { custom_id: customId, component_type: 2 }, { message });
  }

  submitModal(user: FakeUser, customId: string, fields: Record<string, string>, message?: FakeMessage): { id: string; token: string } {
    const components = Object.entries(fields).map(([fieldId, value]) => ({
      type: 1,
      components: [{ type: 4, custom_id: fieldId, value }],
    }));
    return this.sendInteraction(user, InteractionType.ModalSubmit, { custom_id: customId, components }, message ? { message } : {});
  }

  newUser(name: string): FakeUser {
    return makeUser(name);
  }

  /** REST calls seen so far that match; optionally waits until at least `count` exist. */
  async waitForCalls(
    predicate: (c: RecordedCall) => boolean,
    opts: { count?: number; timeoutMs?: number; what?: string } = {},
  ): Promise<RecordedCall[]> {
    const count = opts.count ?? 1;
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      const found = this.calls.filter(predicate);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.calls.map((c) => `${c.method} ${c.path} ${c.status}`).join('\n  ');
        throw new Error(`timed out waiting for ${opts.what ?? 'REST calls'} (${found.length}/${count}); seen:\n  ${seen}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.callWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 250));
        this.callWaiters.add(wake);
      });
    }
  }

  /** Resolves once no REST call has arrived for `ms` (the bot has nothing left to send for now). */
  async quiet(ms: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen = -1;
    while (seen !== this.calls.length) {
      if (Date.now() > deadline) throw new Error('the bot never went quiet');
      seen = this.calls.length;
      await new Promise((r) => setTimeout(r, ms));
    }
  }

  /** The response message of an interaction (its @original), as stored. */
  originalOf(interactionId: string): FakeMessage | undefined {
    const id = this.interactions.get(interactionId)?.originalId;
    return id ? this.messages.get(id) : undefined;
  }

  // ---- server --------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    this.http = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.json(res, 500, { message: String(err), code: 0 });
      });
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.http.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/gateway')) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, req));
    });
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
  }

  private onSocket(ws: WebSocket, req: IncomingMessage): void {
    const params = new URL(req.url ?? '/', 'http://x').searchParams;
    // This fake speaks only what discord.js uses without zlib-sync: JSON, no transport compression.
    if (params.get('encoding') !== 'json' || params.get('v') !== '10' || params.has('compress')) {
      ws.close(4012, 'Invalid API version or encoding');
      return;
    }
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs } }));
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: Record<string, unknown> | number | null };
      if (msg.op === 1) {
        this.heartbeats += 1;
        ws.send(JSON.stringify({ op: 11 }));
      } else if (msg.op === 2) {
        const d = msg.d as Record<string, unknown>;
        this.identifies.push(d);
        if (d.token !== this.expectedToken) {
          ws.close(4004, 'Authentication failed.');
          return;
        }
        this.seq = 0;
        this.dispatch('READY', {
          v: 10,
          user: this.botUser,
          guilds: [{ id: this.guildId, unavailable: true }],
          session_id: `sess_${snowflake()}`,
          resume_gateway_url: this.gatewayUrl,
          shard: [0, 1],
          application: { id: this.appId, flags: 0 },
        });
        this.dispatch('GUILD_CREATE', this.guildPayload());
      }
    });
  }

  /** The bot token the fake accepts (tests pass the same string to the bot). */
  readonly expectedToken = `fake.${snowflake()}.token`;

  private guildPayload(): Record<string, unknown> {
    return {
      id: this.guildId,
      name: 'Fake Guild',
      icon: null,
      owner_id: snowflake(),
      unavailable: false,
      member_count: 3,
      large: false,
      joined_at: new Date(0).toISOString(),
      features: [],
      roles: [{ id: this.guildId, name: '@everyone', permissions: '2248473465835073', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
      channels: [{ id: this.channelId, type: 0, name: 'general', position: 0, permission_overwrites: [], guild_id: this.guildId, flags: 0 }],
      threads: [],
      members: [makeMember(this.botUser)],
      presences: [],
      voice_states: [],
      emojis: [],
      stickers: [],
      stage_instances: [],
      guild_scheduled_events: [],
      preferred_locale: 'en-US',
      premium_tier: 0,
    };
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (status === 204) {
      res.writeHead(204, headers).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  private async readBody(req: IncomingMessage): Promise<{ body?: Record<string, unknown>; files: UploadedFile[] }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const type = req.headers['content-type'] ?? '';
    if (raw.length === 0) return { files: [] };
    if (type.startsWith('multipart/form-data')) {
      // undici's Request parses multipart for us; no hand-rolled parser.
      const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': type }, body: raw }).formData();
      const files: UploadedFile[] = [];
      let body: Record<string, unknown> | undefined;
      for (const [field, value] of form.entries()) {
        if (typeof value === 'string') {
          if (field === 'payload_json') body = JSON.parse(value) as Record<string, unknown>;
        } else {
          files.push({ field, filename: value.name, contentType: value.type, bytes: Buffer.from(await value.arrayBuffer()) });
        }
      }
      return { ...(body ? { body } : {}), files };
    }
    return { body: JSON.parse(raw.toString('utf8')) as Record<string, unknown>, files: [] };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname.startsWith('/attachments/')) {
      const id = url.pathname.split('/')[3] ?? '';
      this.attachmentDownloads.push(id);
      const bytes = this.attachmentBytes.get(id);
      if (!bytes) return this.json(res, 404, { message: 'Not Found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }).end(bytes);
      return;
    }
    if (!url.pathname.startsWith('/api/v10/')) return this.json(res, 404, { message: '404: Not Found', code: 0 });
    const path = decodeURIComponent(url.pathname.slice('/api/v10'.length));
    const method = req.method ?? 'GET';
    const { body, files } = await this.readBody(req);
    const call: RecordedCall = {
      method,
      path,
      query: url.searchParams,
      authorization: req.headers.authorization,
      body,
      files,
      status: 0,
      at: performance.now(),
    };
    this.calls.push(call);
    const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      this.json(res, status, payload, headers);
      for (const wake of [...this.callWaiters]) wake();
    };

    const failure = this.failures.find((f) => (f.times ?? 1) > 0 && f.match(method, path, call));
    if (failure) {
      failure.times = (failure.times ?? 1) - 1;
      return reply(failure.status, failure.body, failure.headers);
    }
    const result = this.route(method, path, url.searchParams, call);
    return reply(result.status, result.body);
  }

  private route(method: string, path: string, query: URLSearchParams, call: RecordedCall): { status: number; body: unknown } {
    const seg = path.split('/').filter(Boolean);
    const botAuth = call.authorization === `Bot ${this.expectedToken}`;
    const needBot = () => (botAuth ? undefined : { status: 401, body: { message: '401: Unauthorized', code: 0 } });

    if (method === 'GET' && path === '/gateway/bot') {
      return (
        needBot() ?? {
          status: 200,
          body: { url: this.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } },
        }
      );
    }
    if (method === 'GET' && path === '/users/@me') return needBot() ?? { status: 200, body: this.botUser };
    if (method === 'GET' && path === '/applications/@me') return needBot() ?? { status: 200, body: { id: this.appId, name: 'RecurVid', flags: 0, bot_public: true } };

    // PUT /applications/:app/commands and /applications/:app/guilds/:guild/commands
    if (seg[0] === 'applications' && method === 'PUT' && seg[seg.length - 1] === 'commands') {
      const denied = needBot();
      if (denied) return denied;
      const list = Array.isArray(call.body) ? (call.body as unknown[]) : [];
      const withIds = list.map((c) => ({ ...(c as object), id: snowflake(), application_id: this.appId, version: snowflake() }));
      if (seg[2] === 'guilds' && seg[3]) this.commands.guild.set(seg[3], withIds);
      else this.commands.global = withIds;
      return { status: 200, body: withIds };
    }

    // POST /interactions/:id/:token/callback
    if (seg[0] === 'interactions' && seg[3] === 'callback' && method === 'POST') {
      return this.interactionCallback(seg[1] ?? '', seg[2] ?? '', call, query);
    }

    // /webhooks/:app/:token[/messages/:id]
    if (seg[0] === 'webhooks') {
      const rec = this.byToken.get(seg[2] ?? '');
      if (!rec || seg[1] !== this.appId) return { status: 404, body: { message: 'Unknown Webhook', code: 10015 } };
      if (this.now() - rec.issuedAt >= TOKEN_LIFETIME_MS) return { status: 401, body: { message: 'Invalid Webhook Token', code: 50027 } };
      if (!rec.acknowledged) return { status: 404, body: { message: 'Unknown Webhook', code: 10015 } };
      if (seg.length === 3 && method === 'POST') {
        const msg = this.createMessage(rec.channelId, rec.guildId, call, rec.attachmentSizeLimit);
        return 'status' in msg ? msg : { status: 200, body: msg };
      }
      if (seg[3] === 'messages' && seg[4]) {
        const id = seg[4] === '@original' ? rec.originalId : seg[4];
        const msg = id ? this.messages.get(id) : undefined;
        if (!msg) return { status: 404, body: { message: 'Unknown Message', code: 10008 } };
        if (method === 'GET') return { status: 200, body: msg };
        if (method === 'PATCH') return this.editMessage(msg, call, rec.attachmentSizeLimit);
        if (method === 'DELETE') {
          this.messages.delete(msg.id);
          return { status: 204, body: undefined };
        }
      }
    }

    // /channels/:channel/messages[/:id]
    if (seg[0] === 'channels' && seg[2] === 'messages') {
      const denied = needBot();
      if (denied) return denied;
      const channelId = seg[1] ?? '';
      if (channelId !== this.channelId && channelId !== this.dmChannelId) return { status: 404, body: { message: 'Unknown Channel', code: 10003 } };
      if (seg.length === 3 && method === 'POST') {
        const msg = this.createMessage(channelId, channelId === this.channelId ? this.guildId : undefined, call, DEFAULT_UPLOAD_LIMIT);
        return 'status' in msg ? msg : { status: 200, body: msg };
      }
      const msg = this.messages.get(seg[3] ?? '');
      if (!msg || msg.channel_id !== channelId) return { status: 404, body: { message: 'Unknown Message', code: 10008 } };
      if (method === 'GET') return { status: 200, body: msg };
      if (method === 'PATCH') {
        if (msg.author.id !== this.botUser.id) return { status: 403, body: { message: 'Cannot edit a message authored by another user', code: 50005 } };
        if ((msg.flags & 64) !== 0) return { status: 404, body: { message: 'Unknown Message', code: 10008 } };
        return this.editMessage(msg, call, DEFAULT_UPLOAD_LIMIT);
      }
    }
    return { status: 404, body: { message: `404: Not Found (${method} ${path})`, code: 0 } };
  }

  private interactionCallback(id: string, token: string, call: RecordedCall, query: URLSearchParams): { status: number; body: unknown } {
    const rec = this.interactions.get(id);
    if (!rec || rec.token !== token) return { status: 404, body: { message: 'Unknown interaction', code: 10062 } };
    if (rec.acknowledged) return { status: 400, body: { message: 'Interaction has already been acknowledged.', code: 40060 } };
    // The 3-second deadline is measured in real time: that is what the fake clock cannot hide.
    if (Date.now() + this.clockOffset - rec.issuedAt > this.ackDeadlineMs) {
      this.lateAcks.push(id);
      return { status: 404, body: { message: 'Unknown interaction', code: 10062 } };
    }
    const type = Number(call.body?.type);
    const data = (call.body?.data ?? {}) as Record<string, unknown>;
    rec.acknowledged = true;
    const flags = Number(data.flags ?? 0);
    if (type === 4 || type === 5) {
      const msg = makeMessage({
        channel_id: rec.channelId,
        ...(rec.guildId ? { guild_id: rec.guildId } : {}),
        author: this.botUser,
        content: type === 4 ? String(data.content ?? '') : '',
        components: (data.components as unknown[]) ?? [],
        embeds: (data.embeds as unknown[]) ?? [],
        flags: (flags & 64) | (type === 5 ? 128 : 0),
        type: 20,
        webhook_id: this.appId,
        application_id: this.appId,
      });
      if (call.files.length) msg.attachments = this.storeFiles(call);
      this.messages.set(msg.id, msg);
      rec.originalId = msg.id;
      rec.ephemeralOriginal = (flags & 64) !== 0;
    }
    if (query.get('with_response') === 'true') {
      const message = rec.originalId ? this.messages.get(rec.originalId) : undefined;
      return {
        status: 200,
        body: { interaction: { id, type: 2, response_message_id: rec.originalId, response_message_loading: type === 5, response_message_ephemeral: rec.ephemeralOriginal }, resource: { type, ...(message ? { message } : {}) } },
      };
    }
    return { status: 204, body: undefined };
  }

  private storeFiles(call: RecordedCall, keep: FakeAttachment[] = []): FakeAttachment[] {
    const declared = Array.isArray(call.body?.attachments) ? (call.body.attachments as Array<{ id: string | number; filename?: string }>) : [];
    const added = call.files.map((f) => {
      const index = /^files\[(\d+)\]$/.exec(f.field)?.[1];
      const decl = declared.find((d) => String(d.id) === index);
      const att = this.addAttachment(decl?.filename ?? f.filename, f.bytes, { contentType: f.contentType });
      return att;
    });
    return [...keep, ...added];
  }

  private uploadTooLarge(call: RecordedCall, limit: number): boolean {
    return call.files.reduce((n, f) => n + f.bytes.length, 0) > limit;
  }

  private createMessage(channelId: string, guildId: string | undefined, call: RecordedCall, limit: number): FakeMessage | { status: number; body: unknown } {
    if (this.uploadTooLarge(call, limit)) return { status: 413, body: { message: 'Request entity too large', code: 40005 } };
    const ref = call.body?.message_reference as { message_id?: string } | undefined;
    const msg = makeMessage({
      channel_id: channelId,
      ...(guildId ? { guild_id: guildId } : {}),
      author: this.botUser,
      content: String(call.body?.content ?? ''),
      components: (call.body?.components as unknown[]) ?? [],
      embeds: (call.body?.embeds as unknown[]) ?? [],
      flags: Number(call.body?.flags ?? 0),
      ...(ref?.message_id ? { type: 19, message_reference: { message_id: ref.message_id, channel_id: channelId } } : {}),
    });
    msg.attachments = this.storeFiles(call);
    this.messages.set(msg.id, msg);
    return msg;
  }

  /** PATCH semantics: `attachments` lists what to keep (plus new uploads); omitted means keep all. */
  private editMessage(msg: FakeMessage, call: RecordedCall, limit: number): { status: number; body: unknown } {
    if (this.uploadTooLarge(call, limit)) return { status: 413, body: { message: 'Request entity too large', code: 40005 } };
    const body = call.body ?? {};
    if ('content' in body) msg.content = String(body.content ?? '');
    if ('components' in body) msg.components = (body.components as unknown[]) ?? [];
    if ('embeds' in body) msg.embeds = (body.embeds as unknown[]) ?? [];
    if ('attachments' in body) {
      const keepIds = new Set((body.attachments as Array<{ id: string | number }>).map((a) => String(a.id)));
      const keep = msg.attachments.filter((a) => keepIds.has(a.id));
      msg.attachments = this.storeFiles(call, keep);
    } else if (call.files.length) {
      msg.attachments = this.storeFiles(call, msg.attachments);
    }
    msg.flags &= ~128;
    msg.edited_timestamp = new Date().toISOString();
    return { status: 200, body: msg };
  }
}
