// `npm run bench [filter] [--json file]`: runs the benchmark suites (bench/index.ts) and prints what
// they measured, with the machine it ran on. Benchmarks report; they never pass or fail. This is a
// development tool next to the tests (the chat benches drive the tests' fake platform servers), so
// the shipped CLI does not reach it.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { benchmarkSuites } from './index.ts';
import { machineDescription } from './machine.ts';
import type { BenchResult } from './types.ts';

function formatResult(r: BenchResult): string {
  const value = `${r.value < 10 ? r.value.toFixed(3) : r.value.toFixed(1)} ${r.unit}`;
  let target = '';
  if (r.target) {
    const met = r.target.better === 'lower' ? r.value <= r.target.value : r.value >= r.target.value;
    target = ` (target ${r.target.better === 'lower' ? '≤' : '≥'} ${r.target.value} ${r.unit}: ${met ? 'met' : 'NOT met'})`;
  }
  return `  ${r.name.padEnd(58)} ${value}${target}${r.note ? ` — ${r.note}` : ''}`;
}

async function runBenchmarks(filter: string | undefined, json: string | undefined): Promise<void> {
  process.stdout.write(`Machine: ${machineDescription()}\n`);
  const all: Array<{ suite: string; results: BenchResult[] }> = [];
  for (const load of benchmarkSuites) {
    for (const bench of await load()) {
      if (filter && !bench.name.includes(filter)) continue;
      process.stdout.write(`\n${bench.name}: ${bench.description}\n`);
      const started = performance.now();
      const results = await bench.run();
      for (const r of results) process.stdout.write(`${formatResult(r)}\n`);
      process.stdout.write(`  (suite took ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
      all.push({ suite: bench.name, results });
    }
  }
  if (!all.length) process.stdout.write(filter ? `No benchmark matches "${filter}".\n` : 'No benchmarks registered.\n');
  if (json) {
    await mkdir(dirname(json), { recursive: true });
    await writeFile(json, JSON.stringify({ machine: machineDescription(), at: new Date().toISOString(), suites: all }, null, 2));
  }
}

await new Command('bench')
  .description('run the benchmarks and print what they measured')
  .argument('[filter]', 'only suites whose name contains this text')
  .option('--json <file>', 'also write the results as JSON')
  .action((filter: string | undefined, opts: { json?: string }) => runBenchmarks(filter, opts.json))
  .parseAsync();
