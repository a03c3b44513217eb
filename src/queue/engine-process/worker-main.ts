// Entry of the engine worker process (forked by ProcessEngine). It owns the engine and with it
// every onnxruntime session; the bots' process only exchanges messages with it. One job at a time.
import { pino } from 'pino';
import type { Logger } from '../../log.ts';
import { EngineCancelledError, type Engine } from '../../engine/types.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const send = (message: FromWorker): void => {
  process.send?.(message);
};

let engine: Engine | undefined;
const controllers = new Map<string, AbortController>();

async function init(message: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  // Log lines go to the parent over IPC and out through its logger (its bindings, its redaction);
  // stderr stays for what is not a log line (a native crash's report).
  const log = pino({ level: message.logLevel, base: undefined }, { write: (line: string) => send({ type: 'log', line }) });
  try {
    const factory = (await import(message.spec.module)) as {
      createEngine(options: Record<string, unknown>, log: Logger): Promise<Engine>;
    };
    engine = await factory.createEngine(message.spec.options, log);
    send({ type: 'ready', description: engine.describe() });
  } catch (error) {
    send({ type: 'init-failed', message: error instanceof Error ? error.message : String(error) });
  }
}

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const { jobId } = message;
  const controller = new AbortController();
  controllers.set(jobId, controller);
  try {
    if (!engine) throw new Error('The engine worker was not initialised.');
    const result = await engine.run({
      imagePath: message.imagePath,
      ...(message.endImagePath !== undefined && { endImagePath: message.endImagePath }),
      workDir: message.workDir,
      options: message.options,
      signal: controller.signal,
      onEvent: (event) => send({ type: 'event', jobId, event }),
    });
    send({ type: 'result', jobId, result });
  } catch (error) {
    const cancelled = controller.signal.aborted || error instanceof EngineCancelledError;
    send({ type: 'error', jobId, message: error instanceof Error ? error.message : String(error), cancelled });
  } finally {
    controllers.delete(jobId);
  }
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'init':
      void init(message);
      break;
    case 'run':
      void run(message);
      break;
    case 'cancel':
      // The engine checks its signal after every step, so it stops within one step.
      controllers.get(message.jobId)?.abort(new EngineCancelledError());
      break;
    case 'close':
      for (const c of controllers.values()) c.abort(new EngineCancelledError());
      void (engine?.close() ?? Promise.resolve()).finally(() => {
        send({ type: 'closed' });
        process.disconnect?.();
      });
      break;
  }
});

// The parent died (or closed the channel): nothing can receive our results any more.
process.on('disconnect', () => process.exit(0));
