// Routes one incoming message to its command: /animate and /prompt (caption or reply), /queue,
// /settings, /help and /start. Long work (downloads, the prompt helper) is started, not awaited
// by the caller, so one slow request never holds up the update loop.
import type { Message } from 'telegraf/types';
import type { JobQueue } from '../../queue/types.ts';
import { DEFAULT_MOTION_PROMPT } from '../../prompting/types.ts';
import { describePosition } from '../common/status.ts';
import { parseAnimateText } from '../common/options.ts';
import { NAMED_OPTIONS, TEXT_OPTION_NAMES, optionUsage, type OptionCaps } from '../../options/fields.ts';
import { resolveJobOptions } from '../../options/resolve.ts';
import type { CacheMode } from '../../options/job-options.ts';
import { parseCommand, type ParsedCommand } from './commands.ts';
import { findImage, findStartAndEnd, type ImageLookup } from './media.ts';
import { albumImages, groupIdOf, type MediaGroups } from './media-group.ts';
import type { ChatKind } from './reply-target.ts';
import type { UserDefaults, UserSettings } from './settings.ts';
import type { AnimateRequest, SubmitOutcome } from './submit.ts';
import type { Suggestions } from './suggestions.ts';

export interface IncomingMessage {
  message: Message;
  chatId: number;
  chatType: ChatKind;
  user: { id: string; name?: string };
}

export interface CommandDeps {
  queue: JobQueue;
  settings: UserSettings;
  suggestions: Suggestions;
  caps: OptionCaps;
  maxDownloadBytes: number;
  botUsername: () => string | undefined;
  /** Sends a plain reply to the message. */
  reply: (msg: IncomingMessage, text: string) => Promise<void>;
  animate: (req: AnimateRequest) => Promise<SubmitOutcome>;
  /** Recent albums: "/animate" on an album of two reads start + end image. */
  mediaGroups?: MediaGroups;
  /** Runs a piece of work in the background, tracked for shutdown. */
  spawn: (work: () => Promise<unknown>) => void;
}

/** /help and /start, with the options as this server's caps allow them. */
export const helpText = (caps: OptionCaps): string => [
  'I animate still images with FramePack.',
  '',
  '• Send a photo with the caption /animate [prompt] [options], or reply /animate to a message with a photo or image file.',
  `• Options: ${TEXT_OPTION_NAMES.map((name) => optionUsage(name, caps)).join(' ')} (also --seconds 5).`,
  '• End frame (original model): send an album of two photos (start, end) with the caption /animate, or reply to the start photo with the end photo captioned /animate.',
  '• /prompt (caption or reply to a photo) suggests a motion prompt.',
  '• /queue shows the queue, /settings your defaults (/settings seconds=8 steps=20 teacache=off, /settings reset).',
  '',
  `Without a prompt I use: ${DEFAULT_MOTION_PROMPT}`,
  'FramePack makes the end of the video first, so previews grow toward the start.',
].join('\n');

/** Returns false when the message carried none of our commands. */
export async function handleMessage(deps: CommandDeps, msg: IncomingMessage): Promise<boolean> {
  const m = msg.message;
  const text = 'text' in m ? m.text : 'caption' in m ? m.caption : undefined;
  const command = parseCommand(text, deps.botUsername());
  if (!command) return false;
  switch (command.name) {
    case 'animate':
      await animateCommand(deps, msg, command);
      return true;
    case 'prompt':
      await promptCommand(deps, msg);
      return true;
    case 'queue':
      await deps.reply(msg, await queueText(deps, msg.user.id));
      return true;
    case 'settings':
      await deps.reply(msg, await settingsCommand(deps, msg.user.id, command.args));
      return true;
    case 'help':
    case 'start':
      await deps.reply(msg, helpText(deps.caps));
      return true;
  }
}

async function animateCommand(deps: CommandDeps, msg: IncomingMessage, command: ParsedCommand): Promise<void> {
  const replied = 'reply_to_message' in msg.message ? (msg.message.reply_to_message as Message | undefined) : undefined;
  const albumId = groupIdOf(msg.message) ?? groupIdOf(replied);
  if (albumId && deps.mediaGroups) {
    // The album's other photos may still be on their way: collect in the background.
    deps.spawn(async () => {
      const album = albumImages(await deps.mediaGroups!.collect(albumId), deps.maxDownloadBytes);
      if (!album.ok) return await deps.reply(msg, album.message);
      await startAnimation(deps, msg, command, album.start, album.end);
    });
    return;
  }
  const found = findStartAndEnd(msg.message, deps.maxDownloadBytes);
  await startAnimation(deps, msg, command, found.start, found.end);
}

async function startAnimation(deps: CommandDeps, msg: IncomingMessage, command: ParsedCommand, start: ImageLookup, end?: ImageLookup): Promise<void> {
  if (!start.ok) return await deps.reply(msg, start.message);
  if (end && !end.ok) return await deps.reply(msg, `End image: ${end.message}`);
  const base = await deps.settings.effective(msg.user.id);
  deps.spawn(() =>
    deps.animate({
      chatId: msg.chatId,
      chatType: msg.chatType,
      replyTo: msg.message.message_id,
      user: msg.user,
      image: { ref: start.image },
      ...(end?.ok ? { endImage: { ref: end.image } } : {}),
      text: command.args,
      base,
    }),
  );
}

async function promptCommand(deps: CommandDeps, msg: IncomingMessage): Promise<void> {
  const found = findImage(msg.message, deps.maxDownloadBytes);
  if (!found.ok) return await deps.reply(msg, found.message.replace('/animate', '/prompt').replace('/animate', '/prompt'));
  deps.spawn(() =>
    deps.suggestions.offer({ chatId: msg.chatId, chatType: msg.chatType, replyTo: msg.message.message_id, ownerId: msg.user.id, image: found.image }),
  );
}

async function queueText(deps: CommandDeps, userId: string): Promise<string> {
  const { queued, running } = deps.queue.stats();
  const lines = [`Queue: ${running} running, ${queued} waiting.`];
  const mine = await deps.queue.activeForUser('telegram', userId);
  if (mine.length === 0) lines.push('You have no active jobs.');
  for (const job of mine) {
    const where = deps.queue.position(job.id);
    const state = job.state === 'running' ? 'running' : where ? `queued, ${describePosition(where.position, where.etaMs)}` : job.state;
    lines.push(`#${job.seq}: ${state}. ${job.options.prompt ? `"${job.options.prompt}"` : ''}`.trim());
  }
  return lines.join('\n');
}

/** What /settings stores: the table's savable options, and for the others the reason they are not. */
const SAVABLE = NAMED_OPTIONS.filter((spec) => spec.saved === true).map((spec) => spec.name!);

async function settingsCommand(deps: CommandDeps, userId: string, args: string): Promise<string> {
  const current = await deps.settings.get(userId);
  if (!args) return `${describeDefaults(deps, await deps.settings.effective(userId))}\nChange with /settings seconds=8 steps=20 cache=magcache, or /settings reset.`;
  if (args.toLowerCase() === 'reset') {
    await deps.settings.reset(userId);
    return `Your defaults are reset.\n${describeDefaults(deps, await deps.settings.effective(userId))}`;
  }
  const parsed = parseAnimateText(args, deps.caps, await deps.settings.effective(userId));
  const errors = [...parsed.errors];
  for (const spec of NAMED_OPTIONS) {
    if (parsed.named.has(spec.name!) && typeof spec.saved === 'string') {
      errors.push(`'${spec.name}' cannot be saved as a default (only ${SAVABLE.join(', ')}): ${spec.saved}.`);
    }
  }
  if (parsed.prompt) errors.push(`Settings take options only (${SAVABLE.join(', ')}); a prompt goes with /animate.`);
  if (errors.length > 0) return `Nothing saved:\n• ${errors.join('\n• ')}`;
  const next: UserDefaults = { ...current };
  for (const spec of NAMED_OPTIONS) {
    if (parsed.named.has(spec.name!)) Object.assign(next, { [spec.field]: parsed.options[spec.field] });
  }
  await deps.settings.set(userId, next);
  return `Saved.\n${describeDefaults(deps, await deps.settings.effective(userId))}`;
}

const CACHE_LABEL: Record<CacheMode, string> = { teacache: 'TeaCache on', none: 'TeaCache off', magcache: 'MagCache on' };

function describeDefaults(deps: CommandDeps, defaults: UserDefaults): string {
  const options = resolveJobOptions({}, deps.caps, defaults).options;
  const parts = [`${options.seconds} s`, `${options.steps} steps`, CACHE_LABEL[options.cache]];
  if (defaults.model !== undefined) parts.push(`model ${options.model === 'f1' ? 'F1' : 'original'}`);
  if (defaults.endFrameStrength !== undefined) parts.push(`end strength ${options.endFrameStrength}`);
  if (defaults.distilledCfg !== undefined) parts.push(`cfg ${options.distilledCfg}`);
  // Any other saved option by its name, so a new savable option shows without a change here.
  const described = new Set<string>(['seconds', 'steps', 'cache', 'model', 'endFrameStrength', 'distilledCfg']);
  for (const spec of NAMED_OPTIONS) {
    if (spec.saved !== true || described.has(spec.field) || defaults[spec.field] === undefined) continue;
    described.add(spec.field);
    parts.push(`${spec.name} ${String(options[spec.field])}`);
  }
  return `Your defaults: ${parts.join(', ')}.`;
}
