// Placeholder: filled in by the issue that owns `recurvid bench`.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('bench')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new Error('recurvid bench is not available yet in this build.');
    });
}
