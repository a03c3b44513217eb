// All benchmark suites; `recurvid bench [name]` runs them. Each suite lives in bench/<area>.ts; add one line here.
import type { Benchmark } from './types.ts';

export const benchmarkSuites: Array<() => Promise<Benchmark[]>> = [];
