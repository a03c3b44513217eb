// Placeholder: filled in by the issue that owns `recurvid convert`.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('convert')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new Error('recurvid convert is not available yet in this build.');
    });
}
