// The `recurvid` command line. Each subcommand lives in ./commands/<name>.ts and is loaded only
// when used, so `recurvid --help` stays fast and a broken optional piece cannot block the others.
import { Command } from 'commander';
import 'dotenv/config';
import { ConfigError } from '../config.ts';

const program = new Command();
program
  .name('recurvid')
  .description('RecurVid: animate an image into a short video with FramePack, from Discord, Telegram or the terminal.')
  .showHelpAfterError();

const commands: Array<[name: string, summary: string, load: () => Promise<{ register(cmd: Command): void }>]> = [
  ['start', 'run the configured Discord and Telegram bots', () => import('./commands/start.ts')],
  ['worker', 'run a GPU worker for scale-out mode (BullMQ on REDIS_URL)', () => import('./commands/worker.ts')],
  ['animate', 'animate one image into a video locally, with a progress bar', () => import('./commands/animate.ts')],
  ['prompt', 'suggest a motion prompt for an image with the prompt helper', () => import('./commands/prompt.ts')],
  ['convert', 'build ONNX model sets from the official safetensors folders', () => import('./commands/convert.ts')],
  ['models', 'make, download or list model sets (tiny, pull, list)', () => import('./commands/models.ts')],
  ['conformance', 'check our graphs against a golden reference set', () => import('./commands/conformance.ts')],
  ['doctor', 'report what is installed, configured and missing', () => import('./commands/doctor.ts')],
];

for (const [name, summary, load] of commands) {
  // A stub that swaps itself for the real command when invoked.
  program
    .command(name)
    .description(summary)
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async () => {
      const real = new Command().name('recurvid').exitOverride();
      (await load()).register(real);
      const argv = process.argv.slice(process.argv.indexOf(name));
      try {
        await real.parseAsync(argv, { from: 'user' });
      } catch (err) {
        if ((err as { code?: string }).code?.startsWith('commander.')) process.exit((err as { exitCode?: number }).exitCode ?? 1);
        throw err;
      }
    });
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
