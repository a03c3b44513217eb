// Starts a job from any interaction (slash command, context menu, button, modal): acknowledge
// within Discord's 3 seconds by deferring, then fetch and check the image, then queue. The
// deferred response becomes the job's status message; an error replaces it with an ephemeral one.
import { MessageFlags, type RepliableInteraction } from 'discord.js';
import type { JobOptions } from '../../options/job-options.ts';
import type { JobRecord } from '../../queue/types.ts';
import type { BotContext } from './context.ts';
import { loadImage, precheckAttachment, type AttachmentInfo, type ImageInput } from './image-input.ts';
import { admissionRefusal } from '../common/admission.ts';
import { submitJob } from './submit.ts';
import { combinationErrors } from '../../options/rules.ts';
import { DEFAULT_UPLOAD_LIMIT } from './settings.ts';
import type { StatusTarget } from './status-messenger.ts';

export type ImageSource = { kind: 'attachment'; info: AttachmentInfo | undefined } | { kind: 'ready'; image: ImageInput };

export interface InteractionJob {
  source: ImageSource;
  /** The `end_image` option: the video ends on it (original model only). */
  endSource?: ImageSource;
  options: JobOptions;
  promptSource?: JobRecord['promptSource'];
}

export async function replyEphemeral(interaction: RepliableInteraction, content: string): Promise<void> {
  const payload = { content, flags: MessageFlags.Ephemeral as const, allowedMentions: { parse: [] } };
  if (interaction.deferred || interaction.replied) await interaction.followUp(payload);
  else await interaction.reply(payload);
}

export async function startJobFromInteraction(ctx: BotContext, interaction: RepliableInteraction, job: InteractionJob): Promise<void> {
  const receivedAt = ctx.now();
  if (job.source.kind === 'attachment') {
    const early = precheckAttachment(job.source.info, ctx.imageLimits);
    if (early) return replyEphemeral(interaction, early);
  }
  if (job.endSource?.kind === 'attachment') {
    const early = precheckAttachment(job.endSource.info, ctx.imageLimits);
    if (early) return replyEphemeral(interaction, `End image: ${early}`);
  }
  const combination = combinationErrors(job.options, { endImage: job.endSource !== undefined });
  if (combination.length) return replyEphemeral(interaction, combination.join('\n'));
  const response = await interaction.deferReply({ withResponse: true });
  // The callback response names the new message; if it does not, ask for it (one extra GET).
  const messageId =
    response.resource?.message?.id ??
    response.interaction.responseMessageId ??
    (await interaction.fetchReply().then((m) => m.id).catch(() => null));

  const fail = async (message: string): Promise<void> => {
    // The deferred reply is public; swap it for an ephemeral explanation.
    await interaction.deleteReply().catch((err: unknown) => ctx.log.debug({ err }, 'discord: could not delete deferred reply'));
    await replyEphemeral(interaction, message);
  };

  // Limits before the downloads: a refused request costs no fetch or decode.
  const refused = await admissionRefusal(ctx.queue, 'discord', interaction.user.id);
  if (refused) return fail(refused);

  let image: ImageInput;
  if (job.source.kind === 'ready') {
    image = job.source.image;
  } else {
    const loaded = await loadImage(job.source.info!, ctx.imageLimits);
    if (!loaded.ok) return fail(loaded.message);
    image = loaded.image;
  }
  let endImage: ImageInput | undefined;
  if (job.endSource?.kind === 'ready') {
    endImage = job.endSource.image;
  } else if (job.endSource) {
    // The same download cap and checks as the start image.
    const loaded = await loadImage(job.endSource.info!, ctx.imageLimits);
    if (!loaded.ok) return fail(`End image: ${loaded.message}`);
    endImage = loaded.image;
  }
  if (!messageId || !interaction.channelId) return fail('Discord did not tell me where my reply is, so I cannot show progress. Please try again.');

  if (!job.options.prompt.trim() && !job.promptSource && ctx.promptHelper?.configured) {
    await interaction.editReply({ content: 'Asking the prompt helper for a motion prompt…' }).catch(() => undefined);
  }
  const target: StatusTarget = {
    channelId: interaction.channelId,
    messageId,
    appId: interaction.applicationId,
    token: interaction.token,
    tokenAt: receivedAt,
    uploadLimit: interaction.attachmentSizeLimit > 0 ? interaction.attachmentSizeLimit : DEFAULT_UPLOAD_LIMIT,
  };
  const outcome = await submitJob(ctx, {
    userId: interaction.user.id,
    userName: interaction.user.username,
    image,
    ...(endImage ? { endImage } : {}),
    options: job.options,
    ...(job.promptSource ? { promptSource: job.promptSource } : {}),
    target,
  });
  if (!outcome.ok) return fail(outcome.message);
}
