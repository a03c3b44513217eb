// Application command definitions and their registration (global, or per guild for development:
// guild commands appear at once, global ones can take a while to propagate).
import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  Routes,
  SlashCommandBuilder,
  type REST,
  type SlashCommandOptionsOnlyBuilder,
  type RESTPostAPIApplicationCommandsJSONBody,
} from 'discord.js';
import { NAMED_OPTIONS, type OptionCaps, type OptionSpec } from '../../options/fields.ts';
import type { JobOptions, ModelVariant } from '../../options/job-options.ts';

export const CommandName = {
  animate: 'animate',
  prompt: 'prompt',
  queue: 'queue',
  help: 'help',
  animateMessage: 'Animate image',
  suggestMessage: 'Suggest motion prompt',
} as const;

export interface CommandCaps {
  maxSeconds: number;
  maxSteps: number;
  /** The server's defaults, named in the descriptions of their options. */
  defaults: Partial<JobOptions>;
  allowDms: boolean;
  /** The transformers the model set holds; a choice option with one choice left (`model` without F1) is not registered. */
  models?: readonly ModelVariant[];
}

export function buildCommands(caps: CommandCaps): RESTPostAPIApplicationCommandsJSONBody[] {
  const contexts = caps.allowDms
    ? [InteractionContextType.Guild, InteractionContextType.BotDM]
    : [InteractionContextType.Guild];

  const animate = new SlashCommandBuilder()
    .setName(CommandName.animate)
    .setDescription('Animate an image with FramePack')
    .setContexts(contexts)
    .addAttachmentOption((o) => o.setName('image').setDescription('The still image to animate').setRequired(true))
    .addAttachmentOption((o) => o.setName('end_image').setDescription('Optional last frame: the video ends on this image (original model only)'));
  const optionCaps: OptionCaps = { maxSeconds: caps.maxSeconds, maxSteps: caps.maxSteps, ...(caps.models ? { models: caps.models } : {}) };
  for (const spec of NAMED_OPTIONS) addTypedOption(animate, spec, optionCaps, caps.defaults);

  const prompt = new SlashCommandBuilder()
    .setName(CommandName.prompt)
    .setDescription('Suggest a motion prompt for an image')
    .setContexts(contexts)
    .addAttachmentOption((o) => o.setName('image').setDescription('The still image').setRequired(true));

  const queue = new SlashCommandBuilder().setName(CommandName.queue).setDescription('Your jobs and the queue length').setContexts(contexts);
  const help = new SlashCommandBuilder().setName(CommandName.help).setDescription('How to use RecurVid').setContexts(contexts);
  const animateMessage = new ContextMenuCommandBuilder()
    .setName(CommandName.animateMessage)
    .setType(ApplicationCommandType.Message)
    .setContexts(contexts);
  const suggestMessage = new ContextMenuCommandBuilder()
    .setName(CommandName.suggestMessage)
    .setType(ApplicationCommandType.Message)
    .setContexts(contexts);

  return [animate, prompt, queue, help, animateMessage, suggestMessage].map((b) => b.toJSON());
}

/** Bulk-overwrites the commands: per guild when guild ids are given, else globally. */
export async function registerCommands(
  rest: REST,
  applicationId: string,
  guildIds: readonly string[],
  commands: RESTPostAPIApplicationCommandsJSONBody[],
): Promise<void> {
  if (guildIds.length === 0) {
    await rest.put(Routes.applicationCommands(applicationId), { body: commands });
    return;
  }
  for (const guildId of guildIds) {
    await rest.put(Routes.applicationGuildCommands(applicationId, guildId), { body: commands });
  }
}

/** One /animate option from the option table: its type, range or choices as the caps allow them. */
function addTypedOption(command: SlashCommandOptionsOnlyBuilder, spec: OptionSpec, caps: OptionCaps, defaults: Partial<JobOptions>): void {
  const name = spec.name!;
  const serverDefault = spec.kind === 'integer' || spec.kind === 'number' ? defaults[spec.field] : undefined;
  const description = `${spec.help(caps)}${serverDefault !== undefined ? `, default ${serverDefault}` : ''}`.slice(0, 100);
  switch (spec.kind) {
    case 'text':
      command.addStringOption((o) => o.setName(name).setDescription(description).setMaxLength(spec.maxLength));
      return;
    case 'integer':
    case 'number': {
      const { min, max } = spec.range(caps);
      if (spec.kind === 'integer') command.addIntegerOption((o) => o.setName(name).setDescription(description).setMinValue(min).setMaxValue(max));
      else command.addNumberOption((o) => o.setName(name).setDescription(description).setMinValue(min).setMaxValue(max));
      return;
    }
    case 'switch':
    case 'flag':
      command.addBooleanOption((o) => o.setName(name).setDescription(description));
      return;
    case 'choice': {
      const choices = spec.choices(caps);
      if (choices.length < 2) return; // nothing to choose
      command.addStringOption((o) =>
        o.setName(name).setDescription(description).addChoices(...choices.map((value) => ({ name: spec.display?.[value] ?? value, value }))),
      );
    }
  }
}
