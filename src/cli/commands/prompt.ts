// `recurvid prompt <image>`: prints the prompt helper's motion prompt for an image.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../../config.ts';
import { promptHelperFromConfig } from '../../prompting/from-config.ts';
import { PromptHelperError } from '../../prompting/types.ts';

export function register(program: Command): void {
  program
    .command('prompt')
    .description('suggest a motion prompt for an image with the prompt helper (PROMPT_HELPER_* settings)')
    .argument('<image>', 'an image file (PNG, JPEG, WebP…)')
    .action(async (imagePath: string) => {
      process.exitCode = await runPrompt(imagePath);
    });
}

/** Prints the prompt on stdout (exit 0) or one sentence on stderr (exit 1). */
export async function runPrompt(
  imagePath: string,
  io: { env?: NodeJS.ProcessEnv; out?: (line: string) => void; err?: (line: string) => void } = {},
): Promise<number> {
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = io.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = loadConfig(io.env ?? process.env);
  const helper = promptHelperFromConfig(config);
  if (!helper.configured) {
    err('The prompt helper is not configured. Set PROMPT_HELPER_BASE_URL (any OpenAI-compatible server) and/or PROMPT_HELPER_API_KEY.');
    return 1;
  }
  let image: Buffer;
  try {
    image = await readFile(imagePath);
  } catch {
    err(`Cannot read the image file ${imagePath}.`);
    return 1;
  }
  try {
    out(await helper.suggest(image, { fresh: true }));
    return 0;
  } catch (e) {
    err(e instanceof PromptHelperError ? e.message : 'The prompt helper failed.');
    return 1;
  }
}
