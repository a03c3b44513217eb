// Every kind of golden set we can check. Each handler lives in its own module; add one line here.
import type { ConformanceHandler } from './types.ts';

export const conformanceHandlers: ConformanceHandler[] = [];
