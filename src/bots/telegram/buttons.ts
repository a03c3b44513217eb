// Inline button presses. The payload is trusted only when its signature checks out; Cancel,
// Re-roll and Same seed longer belong to the job's owner (or an admin), prompt buttons to whoever
// asked for the suggestion. Everyone else gets an alert and nothing happens.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { OPTION_LIMITS } from '../../options/job-options.ts';
import { userIdentity } from '../../queue/identity.ts';
import type { JobQueue } from '../../queue/types.ts';
import type { CallbackSigner } from './callback-data.ts';
import { readReplyTarget } from './reply-target.ts';
import type { AnimateRequest, SubmitOutcome } from './submit.ts';
import type { Suggestions } from './suggestions.ts';
import type { UserSettings } from './settings.ts';

export interface ButtonPress {
  queryId: string;
  userId: string;
  userName?: string;
  data: string;
  /** The message the button sits on. */
  chatId?: number;
  chatType?: AnimateRequest['chatType'];
  messageId?: number;
}

/** What to tell the presser in the callback answer. */
export interface ButtonAnswer {
  text: string;
  alert: boolean;
}

export interface ButtonDeps {
  queue: JobQueue;
  signer: CallbackSigner;
  suggestions: Suggestions;
  settings: UserSettings;
  maxSeconds: number;
  /** Starts an animation in the background (the answer must not wait for the download). */
  animate: (req: AnimateRequest) => Promise<SubmitOutcome>;
}

const NOT_YOURS = 'Only the person who started this job (or a bot admin) can use this button.';

export async function handleButton(deps: ButtonDeps, press: ButtonPress): Promise<ButtonAnswer> {
  const payload = deps.signer.decode(press.data);
  if (!payload) return { text: 'This button is not valid (or has expired).', alert: true };
  const { queue } = deps;
  // Owners and admins are compared as identities (a job's owner is one already, a suggestion's is the bare id).
  const who = userIdentity('telegram', press.userId);
  const allowed = (ownerId: string): boolean => userIdentity('telegram', ownerId) === who || queue.isAdmin(who);

  if (payload.action === 'prompt_use' || payload.action === 'prompt_more') {
    const suggestion = deps.suggestions.get(payload.subject);
    if (!suggestion) return { text: 'This suggestion has expired. Send /prompt again.', alert: true };
    if (!allowed(suggestion.ownerId)) return { text: 'Only the person who asked for this suggestion can use it.', alert: true };
    if (payload.action === 'prompt_more') {
      const more = deps.suggestions.another(suggestion);
      if ('refused' in more) return { text: more.refused, alert: true };
      void more.work;
      return { text: 'Asking for another suggestion…', alert: false };
    }
    void deps.animate({
      chatId: suggestion.chatId,
      chatType: suggestion.chatType,
      replyTo: suggestion.messageId,
      user: { id: press.userId, name: press.userName },
      image: { bytes: suggestion.image, name: suggestion.imageName },
      text: '',
      base: { ...(await deps.settings.effective(press.userId)), prompt: suggestion.prompt },
    });
    return { text: 'Queued with this prompt.', alert: false };
  }

  const job = await queue.get(payload.subject);
  if (!job) return { text: 'That job is no longer known (it may have been cleaned up).', alert: true };
  if (!allowed(job.userId)) return { text: NOT_YOURS, alert: true };

  if (payload.action === 'cancel') {
    const result = await queue.cancel(job.id, who);
    if (!result.ok) return { text: result.message, alert: true };
    return { text: result.wasRunning ? 'Stopping the job…' : 'Cancelled.', alert: false };
  }

  // Re-roll and Same seed longer start a new job from the finished one's image and settings.
  const target = readReplyTarget(job.reply);
  const chatId = press.chatId ?? target?.chatId;
  if (chatId === undefined) return { text: 'I cannot tell which chat this belongs to.', alert: true };
  let image: Buffer;
  try {
    image = await readFile(job.imagePath);
  } catch {
    return { text: 'The original image is no longer stored; please send it again.', alert: true };
  }
  // An end-frame job runs again with its end image.
  const endImage = job.endImagePath ? await readFile(job.endImagePath).catch(() => undefined) : undefined;
  if (job.endImagePath && !endImage) return { text: 'The end image is no longer stored; please send both images again.', alert: true };
  const base = { ...job.options };
  if (payload.action === 'reroll') {
    base.seed = Math.floor(Math.random() * (OPTION_LIMITS.seed.max + 1));
  } else {
    const longer = Math.min(deps.maxSeconds, Math.max(base.seconds + 1, base.seconds * 2));
    if (longer <= base.seconds) return { text: `This video is already at the maximum length (${deps.maxSeconds} s).`, alert: true };
    base.seconds = longer;
  }
  void deps.animate({
    chatId,
    chatType: press.chatType ?? target?.chatType ?? 'group',
    replyTo: press.messageId ?? target?.statusMessageId ?? 0,
    user: { id: press.userId, name: press.userName },
    image: { bytes: image, name: `image${extname(job.imagePath) || '.png'}` },
    ...(endImage && job.endImagePath ? { endImage: { bytes: endImage, name: `end${extname(job.endImagePath) || '.png'}` } } : {}),
    text: '',
    base,
  });
  return { text: payload.action === 'reroll' ? `Re-rolling with seed ${base.seed}…` : `Making it ${base.seconds} s long…`, alert: false };
}
