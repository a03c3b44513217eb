// /queue (your jobs and the queue length) and /help, both private to the asker.
import type { ChatInputCommandInteraction } from 'discord.js';
import { NAMED_OPTIONS, optionUsage } from '../../options/fields.ts';
import { describePosition } from '../common/status.ts';
import { optionCaps, type BotContext } from './context.ts';
import { replyEphemeral } from './interaction-jobs.ts';

export async function handleQueueCommand(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void> {
  const stats = ctx.queue.stats();
  const mine = await ctx.queue.activeForUser('discord', interaction.user.id);
  const lines = [`Queue: ${stats.running} running, ${stats.queued} waiting.`];
  if (mine.length === 0) lines.push('You have no jobs in the queue.');
  for (const job of mine) {
    if (job.state === 'running') {
      const p = job.progress;
      const where = p.section && p.sections ? `, section ${p.section}/${p.sections}` : '';
      lines.push(`#${job.seq}: running${where}.`);
    } else {
      const pos = ctx.queue.position(job.id);
      lines.push(pos ? `#${job.seq}: queued, ${describePosition(pos.position, pos.etaMs)}.` : `#${job.seq}: queued.`);
    }
  }
  await replyEphemeral(interaction, lines.join('\n'));
}

export function helpText(ctx: BotContext, guildId: string | null): string {
  const caps = optionCaps(ctx.config, guildId, ctx.models);
  // Discord's typed options read "[steps 1–20]"; one whose help would be an example shows its name only.
  const typed = NAMED_OPTIONS.filter((spec) => spec.kind !== 'text').map((spec) => {
    const usage = optionUsage(spec.name!, caps);
    return usage === spec.example ? `[${spec.name}]` : `[${usage.replace('=', ' ')}]`;
  });
  return [
    '**RecurVid** turns one still image into a short video with FramePack.',
    `• \`/animate image:<file> [prompt] [end_image] ${typed.join(' ')}\``,
    '• `end_image`: the video ends on that image (original model only). `model`: original or F1 (forward, more motion). `cache`: none, TeaCache or MagCache.',
    '• Reply to a message with an image and mention me, with a prompt: `@RecurVid the girl dances gracefully` (options like `seconds=10 seed=42` work too).',
    '• Right-click a message with an image → Apps → **Animate image** or **Suggest motion prompt**.',
    '• `/prompt image:<file>`: a motion prompt suggestion you can use or edit first.',
    '• `/queue`: your jobs and the queue length.',
    'FramePack makes the end of the video first, so the progress video grows toward the start (F1: the start first).',
    `Prompt helper: ${ctx.promptHelper?.configured ? 'on' : 'off (empty prompts use the default motion prompt)'}.`,
  ].join('\n');
}

export async function handleHelpCommand(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void> {
  await replyEphemeral(interaction, helpText(ctx, interaction.guildId));
}
