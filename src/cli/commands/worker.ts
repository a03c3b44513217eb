// `recurvid worker`: one GPU worker of scale-out mode (run one per GPU, on any machine that reaches
// REDIS_URL). SIGTERM drains: the current section finishes, is checkpointed, and the job goes back
// to the queue for another worker; SIGINT does the same.
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { createLogger } from '../../log.ts';
import { startWorkerProcess } from '../../queue/bullmq/worker-process.ts';

export function register(program: Command): void {
  program
    .command('worker')
    .description('run a GPU worker that takes jobs from BullMQ on REDIS_URL (scale-out mode)')
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config);
      const running = await startWorkerProcess(config, log);
      let stopping = false;
      const drain = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'draining: finishing the current section, then handing the job back');
        running.drain().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'unclean stop');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => drain('SIGINT'));
      process.once('SIGTERM', () => drain('SIGTERM'));
    });
}
