// All benchmark suites; `npm run bench [name]` runs them (bench/main.ts). Each suite lives in bench/<area>.ts; add one line here.
import type { Benchmark } from './types.ts';

export const benchmarkSuites: Array<() => Promise<Benchmark[]>> = [
  () => import('./vae.ts').then((m) => m.suites()),
  () => import('./transformer.ts').then((m) => m.suites()),
  () => import('./transformer-layouts.ts').then((m) => m.suites()),
  () => import('./precision.ts').then((m) => m.suites()),
  () => import('./threads.ts').then((m) => m.suites()),
  () => import('./pipeline.ts').then((m) => m.suites()),
  () => import('./cache.ts').then((m) => m.suites()),
  () => import('./telegram.ts').then((m) => m.suites()),
  () => import('./discord.ts').then((m) => m.suites()),
  () => import('./queue.ts').then((m) => m.suites()),
  () => import('./scale-out.ts').then((m) => m.suites()),
  () => import('./long-video.ts').then((m) => m.suites()),
];
