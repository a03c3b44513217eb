// Who hears a queue's events: listeners subscribe, for every platform or one; a listener that throws
// is logged and skipped, so a broken chat adapter never stops the GPU queue. Both backends (the
// single-machine p-queue one and the BullMQ one) hand their events out through it.
import type { Logger } from '../log.ts';
import type { Platform, QueueEvent } from './types.ts';

export class QueueListeners {
  private readonly entries = new Set<{ fn: (event: QueueEvent) => void; platform: Platform | undefined }>();

  constructor(private readonly log: Logger) {}

  subscribe(fn: (event: QueueEvent) => void, platform?: Platform): () => void {
    const entry = { fn, platform };
    this.entries.add(entry);
    return () => {
      this.entries.delete(entry);
    };
  }

  emit(event: QueueEvent): void {
    for (const { fn, platform } of this.entries) {
      if (platform !== undefined && platform !== event.job.platform) continue;
      try {
        fn(event);
      } catch (error) {
        this.log.error({ err: error, event: event.type }, 'queue listener threw');
      }
    }
  }
}
