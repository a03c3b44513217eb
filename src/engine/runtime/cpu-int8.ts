// Which integer matrix units this CPU has for the dynamic int8 fast mode (DynamicQuantizeMatMul in
// onnxruntime's MLAS): AMX tiles (Sapphire Rapids and later), AVX-512 VNNI, AVX-VNNI. Without any of
// them MLAS multiplies u8 × s8 with plain AVX2, which is no faster than fp32 sgemm, so the fast mode
// is only worth choosing with one of them. Read from /proc/cpuinfo's flags (Linux); elsewhere unknown.
import { readFileSync } from 'node:fs';

export type Int8Unit = 'AMX' | 'AVX-512 VNNI' | 'AVX-VNNI';

export interface CpuInt8 {
  /** The best unit, or null when the CPU has none (or the flags could not be read). */
  unit: Int8Unit | null;
  /** The flags it was chosen from, for the log. */
  flags: string[];
}

/** From a /proc/cpuinfo text (the first `flags` line). */
export function parseCpuInt8(cpuinfo: string): CpuInt8 {
  const line = cpuinfo.split('\n').find((l) => /^flags\s*:/.test(l));
  const all = new Set((line?.split(':')[1] ?? '').trim().split(/\s+/).filter(Boolean));
  const flags = ['amx_int8', 'amx_tile', 'avx512_vnni', 'avx_vnni'].filter((f) => all.has(f));
  const unit: Int8Unit | null = all.has('amx_int8') && all.has('amx_tile') ? 'AMX' : all.has('avx512_vnni') ? 'AVX-512 VNNI' : all.has('avx_vnni') ? 'AVX-VNNI' : null;
  return { unit, flags };
}

let cached: CpuInt8 | undefined;
export function cpuInt8(): CpuInt8 {
  if (!cached) {
    try {
      cached = parseCpuInt8(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      cached = { unit: null, flags: [] };
    }
  }
  return cached;
}

/** One line for the engine's start log: what the set computes in and whether this CPU suits it. */
export function describeCpuMode(dynamicInt8: boolean, provider: string, cpu: CpuInt8 = cpuInt8()): string {
  const units = cpu.unit ? `int8 units: ${cpu.unit}` : 'no int8 matrix units (no AMX/VNNI flags)';
  if (provider !== 'cpu') return `transformer on ${provider}${dynamicInt8 ? ' (an int8-dynamic set runs its int8 products on the CPU provider)' : ''}`;
  if (dynamicInt8) return cpu.unit ? `transformer: fp32 + int8 dynamic (fast mode) on the ${cpu.unit} units` : `transformer: fp32 + int8 dynamic, but this CPU has ${units}: expect it no faster than fp32; rebuild with --preset reference`;
  return cpu.unit ? `transformer: fp32 (exact mode); this CPU has ${units}: --preset cpu-fast would be ≈ 2.7× faster per step` : `transformer: fp32 (exact mode); ${units}`;
}
