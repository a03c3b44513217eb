// Application command definitions and their registration (global, or per guild for development:
// guild commands appear at once, global ones can take a while to propagate).
import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  Routes,
  SlashCommandBuilder,
  type REST,
  type RESTPostAPIApplicationCommandsJSONBody,
} from 'discord.js';
import { ANIMATE_LIMITS } from '../../engine/types.ts';
import { MAX_PROMPT_CHARS } from '../common/options.ts';

export const CommandName = {
  animate: 'animate',
  prompt: 'prompt',
  queue: 'queue',
  help: 'help',
  animateMessage: 'Animate image',
  suggestMessage: 'Suggest motion prompt',
} as const;

export interface CommandCaps {
  maxSeconds: number;
  maxSteps: number;
  defaultSeconds: number;
  defaultSteps: number;
  allowDms: boolean;
  /** The transformers the model set holds; the `model` option is registered only when F1 is among them (or unknown). */
  models?: readonly string[];
}

export function buildCommands(caps: CommandCaps): RESTPostAPIApplicationCommandsJSONBody[] {
  const contexts = caps.allowDms
    ? [InteractionContextType.Guild, InteractionContextType.BotDM]
    : [InteractionContextType.Guild];
  const maxSeconds = Math.min(caps.maxSeconds, ANIMATE_LIMITS.seconds.max);
  const maxSteps = Math.min(caps.maxSteps, ANIMATE_LIMITS.steps.max);

  const animate = new SlashCommandBuilder()
    .setName(CommandName.animate)
    .setDescription('Animate an image with FramePack')
    .setContexts(contexts)
    .addAttachmentOption((o) => o.setName('image').setDescription('The still image to animate').setRequired(true))
    .addStringOption((o) =>
      o.setName('prompt').setDescription('How it should move (empty: a suggested or default motion prompt)').setMaxLength(MAX_PROMPT_CHARS),
    )
    .addNumberOption((o) =>
      o
        .setName('seconds')
        .setDescription(`Video length in seconds (default ${caps.defaultSeconds})`)
        .setMinValue(ANIMATE_LIMITS.seconds.min)
        .setMaxValue(maxSeconds),
    )
    .addIntegerOption((o) =>
      o.setName('seed').setDescription('Random seed (default 31337, as in FramePack)').setMinValue(ANIMATE_LIMITS.seed.min).setMaxValue(ANIMATE_LIMITS.seed.max),
    )
    .addIntegerOption((o) =>
      o
        .setName('steps')
        .setDescription(`Sampling steps per section (default ${caps.defaultSteps})`)
        .setMinValue(ANIMATE_LIMITS.steps.min)
        .setMaxValue(maxSteps),
    )
    .addBooleanOption((o) => o.setName('teacache').setDescription('TeaCache: faster, slightly worse hands and fingers (default on)'))
    .addAttachmentOption((o) => o.setName('end_image').setDescription('Optional last frame: the video ends on this image (original model only)'))
    .addStringOption((o) =>
      o
        .setName('cache')
        .setDescription('Skip transformer steps: none, TeaCache or MagCache (overrides teacache)')
        .addChoices({ name: 'none', value: 'none' }, { name: 'TeaCache', value: 'teacache' }, { name: 'MagCache', value: 'magcache' }),
    );
  if (!caps.models || caps.models.includes('f1')) {
    animate.addStringOption((o) =>
      o
        .setName('model')
        .setDescription('original (anti-drifting, default) or F1 (forward, more motion; needs the F1 transformer)')
        .addChoices({ name: 'original', value: 'original' }, { name: 'F1', value: 'f1' }),
    );
  }
  animate
    .addNumberOption((o) =>
      o
        .setName('distilled_cfg')
        .setDescription(`Distilled CFG scale (default ${ANIMATE_LIMITS.distilledCfg.default})`)
        .setMinValue(ANIMATE_LIMITS.distilledCfg.min)
        .setMaxValue(ANIMATE_LIMITS.distilledCfg.max),
    );

  const prompt = new SlashCommandBuilder()
    .setName(CommandName.prompt)
    .setDescription('Suggest a motion prompt for an image')
    .setContexts(contexts)
    .addAttachmentOption((o) => o.setName('image').setDescription('The still image').setRequired(true));

  const queue = new SlashCommandBuilder().setName(CommandName.queue).setDescription('Your jobs and the queue length').setContexts(contexts);
  const help = new SlashCommandBuilder().setName(CommandName.help).setDescription('How to use RecurVid').setContexts(contexts);
  const animateMessage = new ContextMenuCommandBuilder()
    .setName(CommandName.animateMessage)
    .setType(ApplicationCommandType.Message)
    .setContexts(contexts);
  const suggestMessage = new ContextMenuCommandBuilder()
    .setName(CommandName.suggestMessage)
    .setType(ApplicationCommandType.Message)
    .setContexts(contexts);

  return [animate, prompt, queue, help, animateMessage, suggestMessage].map((b) => b.toJSON());
}

/** Bulk-overwrites the commands: per guild when guild ids are given, else globally. */
export async function registerCommands(
  rest: REST,
  applicationId: string,
  guildIds: readonly string[],
  commands: RESTPostAPIApplicationCommandsJSONBody[],
): Promise<void> {
  if (guildIds.length === 0) {
    await rest.put(Routes.applicationCommands(applicationId), { body: commands });
    return;
  }
  for (const guildId of guildIds) {
    await rest.put(Routes.applicationGuildCommands(applicationId, guildId), { body: commands });
  }
}
