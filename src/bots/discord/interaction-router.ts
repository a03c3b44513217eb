// Routes each interaction to its handler after the place check; an unexpected error becomes a
// short apology to the user and a log line, never silence.
import type { Interaction } from 'discord.js';
import type { BotContext } from './context.ts';
import { CommandName } from './commands.ts';
import { decodeCustomId } from './custom-ids.ts';
import { handleAnimateCommand, handleAnimateMessageCommand } from './animate-commands.ts';
import { handleEditPrompt, handlePromptCommand, handlePromptModal, handleSuggestMessageCommand, handleUsePrompt } from './prompt-commands.ts';
import { handleJobButton } from './job-buttons.ts';
import { handleHelpCommand, handleQueueCommand } from './info-commands.ts';
import { replyEphemeral } from './interaction-jobs.ts';
import { isAllowedPlace, NOT_HERE } from './settings.ts';

const STALE = 'This button is no longer valid.';

export async function routeInteraction(ctx: BotContext, interaction: Interaction): Promise<void> {
  if (!interaction.isRepliable()) return;
  try {
    if (!isAllowedPlace(ctx.config, { guildId: interaction.guildId, channelId: interaction.channelId })) {
      return await replyEphemeral(interaction, NOT_HERE);
    }
    if (interaction.isChatInputCommand()) {
      switch (interaction.commandName) {
        case CommandName.animate:
          return await handleAnimateCommand(ctx, interaction);
        case CommandName.prompt:
          return await handlePromptCommand(ctx, interaction);
        case CommandName.queue:
          return await handleQueueCommand(ctx, interaction);
        case CommandName.help:
          return await handleHelpCommand(ctx, interaction);
      }
      return;
    }
    if (interaction.isMessageContextMenuCommand()) {
      if (interaction.commandName === CommandName.animateMessage) return await handleAnimateMessageCommand(ctx, interaction);
      if (interaction.commandName === CommandName.suggestMessage) return await handleSuggestMessageCommand(ctx, interaction);
      return;
    }
    if (interaction.isButton()) {
      const decoded = decodeCustomId(interaction.customId);
      if (!decoded) return await replyEphemeral(interaction, STALE);
      switch (decoded.action) {
        case 'cancel':
        case 'reroll':
        case 'longer':
          return await handleJobButton(ctx, interaction, decoded.action, decoded.id);
        case 'use-prompt':
          return await handleUsePrompt(ctx, interaction, decoded.id);
        case 'edit-prompt':
          return await handleEditPrompt(ctx, interaction, decoded.id);
        default:
          return await replyEphemeral(interaction, STALE);
      }
    }
    if (interaction.isModalSubmit()) {
      const decoded = decodeCustomId(interaction.customId);
      if (decoded?.action === 'prompt-modal') return await handlePromptModal(ctx, interaction, decoded.id);
      return await replyEphemeral(interaction, STALE);
    }
  } catch (err) {
    ctx.log.error({ err, interactionId: interaction.id }, 'discord: interaction handler failed');
    await replyEphemeral(interaction, 'Sorry, something went wrong on my side. Please try again.').catch(() => undefined);
  }
}
