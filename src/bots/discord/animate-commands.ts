// /animate and the "Animate image" message command.
import type { ChatInputCommandInteraction, MessageContextMenuCommandInteraction } from 'discord.js';
import { NAMED_OPTIONS, type RawValue } from '../../options/fields.ts';
import { resolveJobOptions, resolveNamedValues } from '../../options/resolve.ts';
import { optionBase, optionCaps, type BotContext } from './context.ts';
import { attachmentInfo, pickAttachment } from './image-input.ts';
import { replyEphemeral, startJobFromInteraction } from './interaction-jobs.ts';

export async function handleAnimateCommand(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void> {
  // Every typed option of the table, checked again: Discord enforces the ranges we registered,
  // but caps can change after registration.
  const given: Array<[string, RawValue]> = [];
  for (const spec of NAMED_OPTIONS) {
    const value = interaction.options.get(spec.name!)?.value;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') given.push([spec.name!, value]);
  }
  const caps = optionCaps(ctx.config, interaction.guildId, ctx.models);
  const { options, errors } = resolveNamedValues(given, caps, optionBase(ctx.config, interaction.guildId));
  if (errors.length) return replyEphemeral(interaction, errors.join('\n'));
  const image = interaction.options.getAttachment('image');
  const endImage = interaction.options.getAttachment('end_image');
  await startJobFromInteraction(ctx, interaction, {
    source: { kind: 'attachment', info: image ? attachmentInfo(image) : undefined },
    ...(endImage ? { endSource: { kind: 'attachment' as const, info: attachmentInfo(endImage) } } : {}),
    options,
  });
}

export async function handleAnimateMessageCommand(ctx: BotContext, interaction: MessageContextMenuCommandInteraction): Promise<void> {
  const { options } = resolveJobOptions({}, optionCaps(ctx.config, interaction.guildId, ctx.models), optionBase(ctx.config, interaction.guildId));
  await startJobFromInteraction(ctx, interaction, {
    source: { kind: 'attachment', info: pickAttachment(interaction.targetMessage.attachments) },
    options,
  });
}
