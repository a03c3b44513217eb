// The machine a benchmark ran on, in one line. Every result names it: these machines are shared
// and their CPUs differ from one run to the next, so a figure without its machine says little.
import { arch, cpus, platform, totalmem } from 'node:os';

export function machineDescription(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'} × ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()}/${arch()}, Node ${process.versions.node}`;
}
