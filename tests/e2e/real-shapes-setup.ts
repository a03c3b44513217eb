// Shared settings of the 640-bucket tests (the parent and its child process must run the identical job).
import { loadConfig } from '../../src/config.ts';
import { plannedMemoryBudget } from '../../src/startup.ts';

/** The real bucket: FramePack's default resolution, the shapes a user's job has. */
export const REAL_SHAPES_RESOLUTION = 640;

/** The budget `recurvid start` plans on this machine with MEMORY_BUDGET_GB unset (tiling follows it). */
export const realShapesMemoryBudgetGb = (): number => plannedMemoryBudget(loadConfig({}), 'cpu').budgetGb;
