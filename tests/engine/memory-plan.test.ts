// The default memory plan: with MEMORY_BUDGET_GB unset the budget comes from the machine, never "unlimited".
import { describe, expect, it } from 'vitest';
import { lowMemoryForBudget } from '../../src/engine/memory-budget.ts';
import { parseCgroupLimit, parseNvidiaSmiTotal, planMemoryBudget, readMemoryFacts } from '../../src/engine/memory-plan.ts';

const GIB = 2 ** 30;

describe('memory plan', () => {
  it('keeps a configured MEMORY_BUDGET_GB as it is', () => {
    expect(planMemoryBudget(8, 'cpu', { hostTotalBytes: 24 * GIB })).toEqual({ budgetGb: 8, source: 'MEMORY_BUDGET_GB' });
  });

  it('plans a 24 GB CPU machine below the high-memory threshold, so the VAE decodes in tiles (the 640 job that was OOM-killed)', () => {
    const plan = planMemoryBudget(undefined, 'cpu', { hostTotalBytes: 24 * GIB });
    expect(plan.budgetGb).toBe(18);
    expect(plan.source).toBe('75 % of 24 GB of physical memory');
    expect(lowMemoryForBudget(plan.budgetGb)).toBe(true);
  });

  it('takes a smaller cgroup limit over physical memory, and ignores a larger one', () => {
    expect(planMemoryBudget(undefined, 'cpu', { hostTotalBytes: 128 * GIB, cgroupLimitBytes: 8 * GIB })).toEqual({
      budgetGb: 6,
      source: '75 % of the cgroup limit of 8 GB',
    });
    expect(planMemoryBudget(undefined, 'cpu', { hostTotalBytes: 16 * GIB, cgroupLimitBytes: 64 * GIB }).budgetGb).toBe(12);
  });

  it("plans CUDA from the device's memory, and says so when it falls back to host memory", () => {
    const h200 = planMemoryBudget(undefined, 'cuda', { hostTotalBytes: 128 * GIB, cudaDeviceBytes: 141 * GIB });
    expect(h200.budgetGb).toBe(105.8);
    expect(h200.source).toContain('CUDA device');
    expect(lowMemoryForBudget(h200.budgetGb)).toBe(false);
    const unknown = planMemoryBudget(undefined, 'cuda', { hostTotalBytes: 32 * GIB });
    expect(unknown).toEqual({ budgetGb: 24, source: '75 % of 32 GB of physical memory (the CUDA device memory could not be read)' });
    expect(planMemoryBudget(undefined, 'webgpu', { hostTotalBytes: 32 * GIB }).source).toContain('WebGPU reports no memory size');
  });

  it('parses cgroup v1/v2 limits and nvidia-smi output', () => {
    expect(parseCgroupLimit('max\n')).toBeUndefined();
    expect(parseCgroupLimit('9223372036854771712\n')).toBeUndefined(); // v1's "no limit"
    expect(parseCgroupLimit('8589934592\n')).toBe(8 * GIB);
    expect(parseCgroupLimit(undefined)).toBeUndefined();
    expect(parseCgroupLimit('garbage')).toBeUndefined();
    expect(parseNvidiaSmiTotal('143771\n81559\n', 1)).toBe(81559 * 2 ** 20);
    expect(parseNvidiaSmiTotal('143771\n', 3)).toBeUndefined();
  });

  it('reads this machine: a positive host total, and a plan that is a finite positive number', () => {
    const facts = readMemoryFacts('cpu');
    expect(facts.hostTotalBytes).toBeGreaterThan(0);
    const plan = planMemoryBudget(undefined, 'cpu', facts);
    expect(plan.budgetGb).toBeGreaterThan(0);
    expect(plan.budgetGb).toBeLessThanOrEqual(facts.hostTotalBytes / GIB);
  });
});
