// Hands a validated request to the queue: the prompt is settled first (user's, helper's or the
// default), and the status message's address goes along so queue events can find it later.
import { QueueRefusal, type JobRecord } from '../../queue/types.ts';
import { resolvePrompt } from '../../prompting/resolve.ts';
import type { JobOptions } from '../../options/job-options.ts';
import type { BotContext } from './context.ts';
import type { ImageInput } from './image-input.ts';
import { replyFromTarget, type StatusTarget } from './status-messenger.ts';
import { admissionRefusal } from '../common/admission.ts';

export interface NewJob {
  userId: string;
  userName: string;
  image: ImageInput;
  /** Optional end image (original model only), checked like the start image. */
  endImage?: ImageInput;
  /** An empty prompt asks the prompt helper (or falls back to the default prompt). */
  options: JobOptions;
  /** Set when re-running a job whose prompt was already settled. */
  promptSource?: JobRecord['promptSource'];
  target: StatusTarget;
}

export type SubmitOutcome = { ok: true; job: JobRecord } | { ok: false; message: string };

export async function submitJob(ctx: BotContext, req: NewJob): Promise<SubmitOutcome> {
  // Before the prompt helper; submit checks again below (another job may land meanwhile).
  const refused = await admissionRefusal(ctx.queue, 'discord', req.userId);
  if (refused) return { ok: false, message: refused };
  const resolved =
    req.promptSource && req.options.prompt.trim()
      ? { prompt: req.options.prompt, source: req.promptSource }
      : await resolvePrompt(req.options.prompt, ctx.promptHelper, req.image.bytes);
  const reply = replyFromTarget(req.target);
  if ('notice' in resolved && resolved.notice) reply.notice = resolved.notice;
  try {
    const { job } = await ctx.queue.submit({
      platform: 'discord',
      userId: req.userId,
      userName: req.userName,
      reply,
      image: req.image.bytes,
      imageName: req.image.name,
      ...(req.endImage ? { endImage: req.endImage.bytes, endImageName: req.endImage.name } : {}),
      options: { ...req.options, prompt: resolved.prompt },
      promptSource: resolved.source,
    });
    return { ok: true, job };
  } catch (err) {
    if (err instanceof QueueRefusal) return { ok: false, message: err.message };
    throw err;
  }
}
