// Placeholder: filled in by the issue that owns `recurvid models`.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('models')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new Error('recurvid models is not available yet in this build.');
    });
}
