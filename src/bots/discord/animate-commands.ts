// /animate and the "Animate image" message command.
import type { ChatInputCommandInteraction, MessageContextMenuCommandInteraction } from 'discord.js';
import type { AnimateOptions, CacheMode, ModelVariant } from '../../engine/types.ts';
import { validateOptions } from '../common/options.ts';
import { optionBase, optionCaps, type BotContext } from './context.ts';
import { attachmentInfo, pickAttachment } from './image-input.ts';
import { replyEphemeral, startJobFromInteraction } from './interaction-jobs.ts';

export async function handleAnimateCommand(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void> {
  const o = interaction.options;
  const partial: Partial<AnimateOptions> = {};
  const prompt = o.getString('prompt');
  const seconds = o.getNumber('seconds');
  const seed = o.getInteger('seed');
  const steps = o.getInteger('steps');
  const teacache = o.getBoolean('teacache');
  const cfg = o.getNumber('distilled_cfg');
  const model = o.getString('model');
  const cache = o.getString('cache');
  if (prompt !== null) partial.prompt = prompt;
  if (seconds !== null) partial.seconds = seconds;
  if (seed !== null) partial.seed = seed;
  if (steps !== null) partial.steps = steps;
  if (teacache !== null) partial.teacache = teacache;
  if (cfg !== null) partial.distilledCfg = cfg;
  // Discord only offers the registered choices; validateOptions still checks them against the set.
  if (model !== null) partial.model = model as ModelVariant;
  if (cache !== null) partial.cache = cache as CacheMode;
  // Discord enforces the ranges we registered, but caps can change after registration.
  const { options, errors } = validateOptions(partial, optionCaps(ctx.config, interaction.guildId, ctx.models), optionBase(ctx.config, interaction.guildId));
  if (errors.length) return replyEphemeral(interaction, errors.join('\n'));
  const image = o.getAttachment('image');
  const endImage = o.getAttachment('end_image');
  await startJobFromInteraction(ctx, interaction, {
    source: { kind: 'attachment', info: image ? attachmentInfo(image) : undefined },
    ...(endImage ? { endSource: { kind: 'attachment' as const, info: attachmentInfo(endImage) } } : {}),
    options,
  });
}

export async function handleAnimateMessageCommand(ctx: BotContext, interaction: MessageContextMenuCommandInteraction): Promise<void> {
  const { options } = validateOptions({}, optionCaps(ctx.config, interaction.guildId), optionBase(ctx.config, interaction.guildId));
  await startJobFromInteraction(ctx, interaction, {
    source: { kind: 'attachment', info: pickAttachment(interaction.targetMessage.attachments) },
    options,
  });
}
