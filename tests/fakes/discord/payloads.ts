// Builders for the JSON shapes Discord sends (API v10): users, members, attachments, messages and
// interactions. Only the fields discord.js reads are filled in, with realistic values.
import { snowflake } from './snowflake.ts';

export interface FakeUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: string | null;
  bot?: boolean;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type?: string;
  width?: number;
  height?: number;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: FakeUser;
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  tts: boolean;
  mention_everyone: boolean;
  mentions: FakeUser[];
  mention_roles: string[];
  attachments: FakeAttachment[];
  embeds: unknown[];
  components: unknown[];
  pinned: boolean;
  type: number;
  flags: number;
  message_reference?: { type?: number; message_id: string; channel_id: string; guild_id?: string };
  referenced_message?: FakeMessage | null;
  webhook_id?: string;
  application_id?: string;
  interaction_metadata?: unknown;
  allowed_mentions?: unknown;
}

export function makeUser(username: string, extra: Partial<FakeUser> = {}): FakeUser {
  return { id: snowflake(), username, global_name: username, discriminator: '0', avatar: null, ...extra };
}

export function makeMember(user: FakeUser): Record<string, unknown> {
  return {
    user,
    roles: [],
    joined_at: new Date(0).toISOString(),
    deaf: false,
    mute: false,
    flags: 0,
    nick: null,
    avatar: null,
    pending: false,
    permissions: '2248473465835073',
  };
}

export function makeMessage(fields: Partial<FakeMessage> & Pick<FakeMessage, 'channel_id' | 'author'>): FakeMessage {
  return {
    id: snowflake(),
    content: '',
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    components: [],
    pinned: false,
    type: 0,
    flags: 0,
    ...fields,
  };
}

export const ApplicationCommandType = { ChatInput: 1, User: 2, Message: 3 } as const;
export const InteractionType = { Ping: 1, ApplicationCommand: 2, MessageComponent: 3, Autocomplete: 4, ModalSubmit: 5 } as const;
export const OptionType = { String: 3, Integer: 4, Boolean: 5, Number: 10, Attachment: 11 } as const;

export interface SlashOption {
  name: string;
  type: number;
  value: string | number | boolean;
}
