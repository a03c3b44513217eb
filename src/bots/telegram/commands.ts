// Recognises our commands in message text or photo captions, including the "/animate@BotName"
// form Telegram uses in groups (privacy mode delivers only commands addressed to the bot).
export const COMMANDS = ['animate', 'prompt', 'queue', 'settings', 'help', 'start'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Published with setMyCommands. */
export const COMMAND_DESCRIPTIONS: ReadonlyArray<{ command: CommandName; description: string }> = [
  { command: 'animate', description: 'Animate a photo: caption or reply, e.g. /animate waves roll seconds=5' },
  { command: 'prompt', description: 'Suggest a motion prompt for a photo (caption or reply)' },
  { command: 'queue', description: 'Show the queue and your jobs' },
  { command: 'settings', description: 'Your defaults: /settings seconds=5 steps=25 teacache=on' },
  { command: 'help', description: 'How to use the bot' },
];

export interface ParsedCommand {
  name: CommandName;
  /** Everything after the command word, trimmed. */
  args: string;
}

const COMMAND = /^\/([a-z_]+)(?:@([A-Za-z0-9_]+))?(?:\s+([\s\S]*))?$/i;

/**
 * The command at the start of `text`, or undefined when there is none, it is not ours, or it is
 * addressed to another bot.
 */
export function parseCommand(text: string | undefined, botUsername: string | undefined): ParsedCommand | undefined {
  if (!text) return undefined;
  const match = COMMAND.exec(text.trim());
  if (!match) return undefined;
  const name = match[1]!.toLowerCase();
  const addressee = match[2];
  if (addressee && botUsername && addressee.toLowerCase() !== botUsername.toLowerCase()) return undefined;
  if (!(COMMANDS as readonly string[]).includes(name)) return undefined;
  return { name: name as CommandName, args: (match[3] ?? '').trim() };
}
