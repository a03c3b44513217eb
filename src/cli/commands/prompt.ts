// Placeholder: filled in by the issue that owns `recurvid prompt`.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('prompt')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new Error('recurvid prompt is not available yet in this build.');
    });
}
