// Public entry of the queue module. Construct: `const store = await openJobStore({ dataDir, redisUrl });
// const queue = createJobQueue({ engine, store, config, log }); queue.subscribe(...); await queue.start();`
export { createJobQueue, type CreateJobQueueOptions, type JobQueueConfig } from './job-queue.ts';
export { openJobStore, type JobStore, type JobStoreConfig } from './store.ts';
export { ManualClock, systemClock, type Clock } from './clock.ts';
export * from './types.ts';
