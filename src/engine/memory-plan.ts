// The memory budget when MEMORY_BUDGET_GB is unset: planned from what the machine has, so a default
// job never plans for "everything resident, untiled" on a machine that cannot hold it. (Unset used to
// mean exactly that: a 4 s job at the 640 bucket was killed by the OOM killer at 21.6 GB on 24 GB.)
//
// CPU and WebGPU (lavapipe, integrated GPUs) share host memory, so the host's physical memory, or the
// cgroup's limit when that is smaller, is the ceiling; a CUDA device reports its own. The budget keeps
// a share back for what is not the networks (this process, frames, activations, the OS).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import type { ExecutionProvider } from './runtime/session.ts';

/** The networks get this share of the memory found; the rest is the host's. */
export const BUDGET_SHARE = 0.75;
/** A cgroup v1 "no limit" is a huge page-aligned number; anything above this is no limit. */
const NO_LIMIT_ABOVE = 2 ** 60;

export interface MemoryFacts {
  hostTotalBytes: number;
  /** The cgroup's memory limit, when one is set (containers, systemd slices). */
  cgroupLimitBytes?: number;
  /** Total memory of the CUDA device the engine runs on, when it could be read. */
  cudaDeviceBytes?: number;
}

export interface MemoryPlan {
  budgetGb: number;
  /** Where the figure came from, for the startup log line. */
  source: string;
}

const GIB = 2 ** 30;

export function planMemoryBudget(configuredGb: number | undefined, provider: ExecutionProvider, facts: MemoryFacts): MemoryPlan {
  if (configuredGb !== undefined) return { budgetGb: configuredGb, source: 'MEMORY_BUDGET_GB' };
  if (provider === 'cuda' && facts.cudaDeviceBytes !== undefined) {
    return { budgetGb: round(facts.cudaDeviceBytes * BUDGET_SHARE), source: `${share()} of the CUDA device's ${round(facts.cudaDeviceBytes)} GB (nvidia-smi)` };
  }
  const host = facts.hostTotalBytes;
  const limited = facts.cgroupLimitBytes !== undefined && facts.cgroupLimitBytes < host;
  const bytes = limited ? facts.cgroupLimitBytes! : host;
  const what = limited ? `the cgroup limit of ${round(bytes)} GB` : `${round(bytes)} GB of physical memory`;
  const why = provider === 'cuda' ? ' (the CUDA device memory could not be read)' : provider === 'webgpu' ? ' (WebGPU reports no memory size; host memory bounds it)' : '';
  return { budgetGb: round(bytes * BUDGET_SHARE), source: `${share()} of ${what}${why}` };
}

/** Reads the facts from this machine. Every probe is optional: a missing file or tool is "unknown". */
export function readMemoryFacts(provider: ExecutionProvider, cudaDeviceId?: number): MemoryFacts {
  const facts: MemoryFacts = { hostTotalBytes: os.totalmem() };
  const cgroup = readCgroupLimit();
  if (cgroup !== undefined) facts.cgroupLimitBytes = cgroup;
  if (provider === 'cuda') {
    const cuda = readCudaDeviceBytes(cudaDeviceId ?? 0);
    if (cuda !== undefined) facts.cudaDeviceBytes = cuda;
  }
  return facts;
}

/** cgroup v2 `memory.max` ("max" = none), else v1 `memory.limit_in_bytes`. */
export function parseCgroupLimit(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (!t || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) && n > 0 && n < NO_LIMIT_ABOVE ? n : undefined;
}

function readCgroupLimit(): number | undefined {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    const limit = parseCgroupLimit(readOptional(file));
    if (limit !== undefined) return limit;
  }
  return undefined;
}

/** nvidia-smi prints MiB per device, one line each. */
export function parseNvidiaSmiTotal(text: string, deviceId: number): number | undefined {
  const mib = Number(text.split('\n').map((l) => l.trim()).filter(Boolean)[deviceId]);
  return Number.isFinite(mib) && mib > 0 ? mib * 2 ** 20 : undefined;
}

function readCudaDeviceBytes(deviceId: number): number | undefined {
  const r = spawnSync('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? parseNvidiaSmiTotal(r.stdout, deviceId) : undefined;
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function round(bytes: number): number {
  return Math.round((bytes / GIB) * 10) / 10;
}

function share(): string {
  return `${Math.round(BUDGET_SHARE * 100)} %`;
}
