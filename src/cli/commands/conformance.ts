// Placeholder: filled in by the issue that owns `recurvid conformance`.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('conformance')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      throw new Error('recurvid conformance is not available yet in this build.');
    });
}
