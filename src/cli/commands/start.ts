// Placeholder: filled in by the issue that owns `recurvid start`.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('start')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new Error('recurvid start is not available yet in this build.');
    });
}
