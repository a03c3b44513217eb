// `recurvid start`: runs every bot whose token is configured until SIGINT / SIGTERM. Single machine
// (default): with the queue and one engine worker process. QUEUE_BACKEND=bullmq: bots only; jobs go
// to BullMQ on REDIS_URL and `recurvid worker` processes run them.
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { createLogger } from '../../log.ts';
import { startApp } from '../../app.ts';

export function register(program: Command): void {
  program
    .command('start')
    .description('run the configured Discord and Telegram bots (and, on one machine, the queue and engine)')
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config);
      const app = await startApp(config, log);
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info(
          { signal },
          config.QUEUE_BACKEND === 'bullmq'
            ? 'stopping the bots: jobs keep running on the GPU workers and this bot picks them up again when it restarts'
            : 'stopping: running jobs resume from their last section on the next start',
        );
        app.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'unclean stop');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
}
