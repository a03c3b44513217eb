// "@RecurVid <prompt>" in a reply to a message with an image (or on a message with its own image).
// No Message Content intent is needed for the mention itself: Discord gives bots the content of
// messages that mention them. It does hide attachments of *other* messages without that intent,
// so when the replied-to image is invisible we point to the "Animate image" app command, whose
// payload always carries the full message.
import type { Message } from 'discord.js';
import { parseAnimateText } from '../common/options.ts';
import { optionBase, optionCaps, type BotContext } from './context.ts';
import { loadImage, pickAttachment, type AttachmentInfo } from './image-input.ts';
import { isAllowedPlace, DEFAULT_UPLOAD_LIMIT } from './settings.ts';
import { admissionRefusal } from '../common/admission.ts';
import { submitJob } from './submit.ts';

const NO_IMAGE_IN_REPLY =
  "I can't see an image in the message you replied to. If it has one, use the **Animate image** app command on it (right-click → Apps), which always shows me the image.";
const HOW_TO = 'Reply to a message with an image and mention me with a prompt, or attach an image to your message. See /help.';

export async function handleMention(ctx: BotContext, message: Message, botId: string): Promise<void> {
  if (message.author.bot || message.system) return;
  // An explicit mention in the text; reply pings alone do not count.
  if (!new RegExp(`<@!?${botId}>`).test(message.content)) return;
  if (!isAllowedPlace(ctx.config, { guildId: message.guildId, channelId: message.channelId })) return;

  const text = message.content.replace(new RegExp(`<@!?${botId}>`, 'g'), ' ').trim();
  const parsed = parseAnimateText(text, optionCaps(ctx.config, message.guildId, ctx.models), optionBase(ctx.config, message.guildId));
  const say = (content: string) => message.reply({ content, allowedMentions: { parse: [], repliedUser: false } });
  if (parsed.errors.length) {
    await say(parsed.errors.join('\n'));
    return;
  }

  let info: AttachmentInfo | undefined;
  if (message.reference?.messageId) {
    const ref = await message.fetchReference().catch(() => undefined);
    if (!ref) {
      await say("I couldn't open the message you replied to. It may have been deleted.");
      return;
    }
    info = pickAttachment(ref.attachments);
    if (!info) {
      await say(NO_IMAGE_IN_REPLY);
      return;
    }
  } else {
    info = pickAttachment(message.attachments);
    if (!info) {
      await say(HOW_TO);
      return;
    }
  }

  const status = await say('Getting your image…');
  const edit = (content: string) => status.edit({ content, allowedMentions: { parse: [] } });
  // Limits before the download: a refused request costs no fetch or decode.
  const refused = await admissionRefusal(ctx.queue, 'discord', message.author.id);
  if (refused) {
    await edit(refused);
    return;
  }
  const loaded = await loadImage(info, ctx.imageLimits);
  if (!loaded.ok) {
    await edit(loaded.message);
    return;
  }
  const outcome = await submitJob(ctx, {
    userId: message.author.id,
    userName: message.author.username,
    image: loaded.image,
    options: parsed.options,
    target: { channelId: message.channelId, messageId: status.id, uploadLimit: DEFAULT_UPLOAD_LIMIT },
  });
  if (!outcome.ok) await edit(outcome.message);
}
