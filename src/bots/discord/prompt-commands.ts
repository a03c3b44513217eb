// /prompt and "Suggest motion prompt": ask the prompt helper, show the suggestion privately with
// "Animate with this prompt" and "Edit first" (a modal with the prompt prefilled).
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  MessageFlags,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
  escapeMarkdown,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type MessageContextMenuCommandInteraction,
  type ModalSubmitInteraction,
} from 'discord.js';
import { PromptHelperError } from '../../prompting/types.ts';
import { resolveJobOptions } from '../../options/resolve.ts';
import { promptLimitMessage } from '../common/prompt-limit.ts';
import { optionBase, optionCaps, type BotContext } from './context.ts';
import { encodeCustomId } from './custom-ids.ts';
import { attachmentInfo, loadImage, pickAttachment, precheckAttachment, type AttachmentInfo, type ImageInput } from './image-input.ts';
import { replyEphemeral, startJobFromInteraction } from './interaction-jobs.ts';

export const PROMPT_FIELD_ID = 'prompt';
const NO_HELPER = 'The prompt helper is not configured on this bot. You can still animate with your own prompt (/animate).';
const EXPIRED = 'That suggestion has expired. Please ask again with /prompt.';
const NOT_YOURS = 'That suggestion belongs to someone else. Ask for your own with /prompt.';

export async function handlePromptCommand(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void> {
  const image = interaction.options.getAttachment('image');
  await suggest(ctx, interaction, image ? attachmentInfo(image) : undefined);
}

export async function handleSuggestMessageCommand(ctx: BotContext, interaction: MessageContextMenuCommandInteraction): Promise<void> {
  await suggest(ctx, interaction, pickAttachment(interaction.targetMessage.attachments));
}

async function suggest(
  ctx: BotContext,
  interaction: ChatInputCommandInteraction | MessageContextMenuCommandInteraction,
  info: AttachmentInfo | undefined,
): Promise<void> {
  const early = precheckAttachment(info, ctx.imageLimits) ?? (ctx.promptHelper?.configured ? undefined : NO_HELPER);
  if (early) return replyEphemeral(interaction, early);
  // Before the download: a refused request costs nothing. DMs count per channel.
  const place = interaction.guildId ? `guild:${interaction.guildId}` : `dm:${interaction.channelId}`;
  const decision = ctx.promptLimits.take(interaction.user.id, place);
  if (!decision.ok) return replyEphemeral(interaction, promptLimitMessage(decision, interaction.guildId ? 'server' : 'chat'));
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const loaded = await loadImage(info!, ctx.imageLimits);
  if (!loaded.ok) {
    await interaction.editReply({ content: loaded.message });
    return;
  }
  let prompt: string;
  try {
    prompt = await ctx.promptHelper!.suggest(loaded.image.bytes);
  } catch (err) {
    const message = err instanceof PromptHelperError ? err.message : 'The prompt helper failed. Please try again later.';
    if (!(err instanceof PromptHelperError)) ctx.log.warn({ err }, 'discord: prompt helper failed');
    await interaction.editReply({ content: message });
    return;
  }
  const id = await ctx.suggestions.add({ userId: interaction.user.id, image: loaded.image, prompt });
  const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(encodeCustomId('use-prompt', id)).setLabel('Animate with this prompt').setStyle(ButtonStyle.Primary),
    new ButtonBuilder().setCustomId(encodeCustomId('edit-prompt', id)).setLabel('Edit first').setStyle(ButtonStyle.Secondary),
  );
  await interaction.editReply({ content: `Suggested motion prompt:\n> ${escapeMarkdown(prompt)}`, components: [row] });
}

function ownSuggestion(ctx: BotContext, id: string, userId: string): { ok: true; image: ImageInput; prompt: string } | { ok: false; message: string } {
  const s = ctx.suggestions.get(id);
  if (!s) return { ok: false, message: EXPIRED };
  if (s.userId !== userId) return { ok: false, message: NOT_YOURS };
  return { ok: true, image: s.image, prompt: s.prompt };
}

export async function handleUsePrompt(ctx: BotContext, interaction: ButtonInteraction, id: string): Promise<void> {
  const s = ownSuggestion(ctx, id, interaction.user.id);
  if (!s.ok) return replyEphemeral(interaction, s.message);
  await animateWith(ctx, interaction, s.image, s.prompt, 'helper');
}

export async function handleEditPrompt(ctx: BotContext, interaction: ButtonInteraction, id: string): Promise<void> {
  const s = ownSuggestion(ctx, id, interaction.user.id);
  if (!s.ok) return replyEphemeral(interaction, s.message);
  const input = new TextInputBuilder()
    .setCustomId(PROMPT_FIELD_ID)
    .setLabel('Motion prompt')
    .setStyle(TextInputStyle.Paragraph)
    .setMaxLength(1000)
    .setRequired(true)
    .setValue(s.prompt.slice(0, 1000));
  const modal = new ModalBuilder()
    .setCustomId(encodeCustomId('prompt-modal', id))
    .setTitle('Edit the prompt, then animate')
    .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input));
  await interaction.showModal(modal);
}

export async function handlePromptModal(ctx: BotContext, interaction: ModalSubmitInteraction, id: string): Promise<void> {
  const s = ownSuggestion(ctx, id, interaction.user.id);
  if (!s.ok) return replyEphemeral(interaction, s.message);
  const prompt = interaction.fields.getTextInputValue(PROMPT_FIELD_ID).trim();
  if (!prompt) return replyEphemeral(interaction, 'The prompt was empty. Please write one, or use "Animate with this prompt".');
  await animateWith(ctx, interaction, s.image, prompt, prompt === s.prompt ? 'helper' : 'user');
}

async function animateWith(
  ctx: BotContext,
  interaction: ButtonInteraction | ModalSubmitInteraction,
  image: ImageInput,
  prompt: string,
  source: 'helper' | 'user',
): Promise<void> {
  const { options } = resolveJobOptions({ prompt }, optionCaps(ctx.config, interaction.guildId, ctx.models), optionBase(ctx.config, interaction.guildId));
  await startJobFromInteraction(ctx, interaction, { source: { kind: 'ready', image }, options, promptSource: source });
}
