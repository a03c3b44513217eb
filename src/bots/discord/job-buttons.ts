// The status message's buttons: Cancel, Re-roll (new seed) and Same seed, longer. The job id in
// the custom id is only a lookup key: the job is fetched from the queue and the presser must be
// its owner or an admin.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ButtonInteraction } from 'discord.js';
import { OPTION_LIMITS } from '../../options/job-options.ts';
import { userIdentity } from '../../queue/identity.ts';
import type { JobRecord } from '../../queue/types.ts';
import { optionCaps, type BotContext } from './context.ts';
import type { ComponentAction } from './custom-ids.ts';
import { replyEphemeral, startJobFromInteraction } from './interaction-jobs.ts';

export const NOT_YOUR_JOB = 'That is not your job: only the person who started it (or an admin) can use its buttons.';
const GONE = "I can't find that job any more. It may have been cleaned up.";

export async function handleJobButton(
  ctx: BotContext,
  interaction: ButtonInteraction,
  action: Extract<ComponentAction, 'cancel' | 'reroll' | 'longer'>,
  jobId: string,
): Promise<void> {
  const job = await ctx.queue.get(jobId);
  if (job?.platform !== 'discord') return replyEphemeral(interaction, GONE);
  const who = userIdentity('discord', interaction.user.id);
  if (job.userId !== who && !ctx.queue.isAdmin(who)) return replyEphemeral(interaction, NOT_YOUR_JOB);
  switch (action) {
    case 'cancel':
      return cancel(ctx, interaction, job);
    case 'reroll':
      return rerun(ctx, interaction, job, { seed: randomSeed() });
    case 'longer': {
      const cap = optionCaps(ctx.config, interaction.guildId).maxSeconds;
      if (job.options.seconds >= cap) return replyEphemeral(interaction, `Job #${job.seq} is already ${job.options.seconds} s, the longest this bot makes.`);
      return rerun(ctx, interaction, job, { seconds: Math.min(cap, Math.max(job.options.seconds * 2, job.options.seconds + 1)) });
    }
  }
}

async function cancel(ctx: BotContext, interaction: ButtonInteraction, job: JobRecord): Promise<void> {
  // Acknowledge silently: the queue's 'cancelled' event edits the status message.
  await interaction.deferUpdate();
  const result = await ctx.queue.cancel(job.id, userIdentity('discord', interaction.user.id));
  if (!result.ok) await replyEphemeral(interaction, result.message);
}

async function rerun(ctx: BotContext, interaction: ButtonInteraction, job: JobRecord, change: { seed?: number; seconds?: number }): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readFile(job.imagePath);
  } catch {
    return replyEphemeral(interaction, `The image of job #${job.seq} is no longer stored, so I cannot run it again. Please send it again.`);
  }
  // An end-frame job runs again with its end image.
  const endBytes = job.endImagePath ? await readFile(job.endImagePath).catch(() => undefined) : undefined;
  if (job.endImagePath && !endBytes) {
    return replyEphemeral(interaction, `The end image of job #${job.seq} is no longer stored, so I cannot run it again. Please send both images again.`);
  }
  await startJobFromInteraction(ctx, interaction, {
    ...(endBytes && job.endImagePath ? { endSource: { kind: 'ready' as const, image: { bytes: endBytes, name: basename(job.endImagePath), width: 0, height: 0 } } } : {}),
    // Width/height are not needed again: the image was checked when the job was first made.
    source: { kind: 'ready', image: { bytes, name: basename(job.imagePath), width: 0, height: 0 } },
    options: { ...job.options, ...change },
    ...(job.promptSource ? { promptSource: job.promptSource } : { promptSource: 'user' as const }),
  });
}

function randomSeed(): number {
  return Math.floor(Math.random() * (OPTION_LIMITS.seed.max + 1));
}
