// Asked before any costly work (downloads, image decoding, the prompt helper): the queue's own
// refusal sentence when it would not take a job from this user now, else undefined. submit checks
// again (another job may land in between); any other error is the caller's to report.
import { QueueRefusal, type JobQueue, type Platform } from '../../queue/types.ts';

export async function admissionRefusal(queue: JobQueue, platform: Platform, userId: string): Promise<string | undefined> {
  try {
    await queue.checkAdmission(platform, userId);
    return undefined;
  } catch (err) {
    if (err instanceof QueueRefusal) return err.message;
    throw err;
  }
}
