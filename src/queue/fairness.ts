// Fair order between users: start-time fair queuing with one unit per job. A job's round is the
// round now being served, or one past its owner's last active job, whichever is later. Jobs run in
// (round, seq) order, so with one job per user the queue is plain FIFO, and with several a user's
// second job waits behind every other user's first. Existing jobs never swap places: a newcomer
// can only go ahead of jobs whose round is higher than its own.

export interface Schedulable {
  round: number;
  seq: number;
}

/** Round for a new job. `ownerRounds`: rounds of the owner's active (queued or running) jobs. */
export function roundForNewJob(currentRound: number, ownerRounds: readonly number[]): number {
  if (ownerRounds.length === 0) return currentRound;
  return Math.max(currentRound, Math.max(...ownerRounds) + 1);
}

export function compareSchedule(a: Schedulable, b: Schedulable): number {
  return a.round - b.round || a.seq - b.seq;
}

/** p-queue runs higher priorities first and keeps FIFO among equals, so priority = −round. */
export function priorityForRound(round: number): number {
  return -round;
}
