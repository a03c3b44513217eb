// Placeholder: filled in by the issue that owns `recurvid animate`.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('animate')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new Error('recurvid animate is not available yet in this build.');
    });
}
