// Benchmarks (`npm run bench [name]`) report what they measured; they never assert.
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** Target, when the issue sets one, with how it compares. */
  target?: { value: number; better: 'lower' | 'higher' };
  note?: string;
}

export interface Benchmark {
  name: string;
  description: string;
  run(): Promise<BenchResult[]>;
}
