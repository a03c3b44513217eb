// FramePack switches to its low-VRAM path (transformer blocks loaded one at a time, the VAE decoded
// in tiles) below 60 GB of free GPU memory; MEMORY_BUDGET_GB plays that role here.
export const LOW_MEMORY_BELOW_GB = 60;

export function lowMemoryForBudget(budgetGb: number | undefined): boolean {
  return budgetGb !== undefined && budgetGb < LOW_MEMORY_BELOW_GB;
}
