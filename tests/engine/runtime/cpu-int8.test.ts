// Which int8 matrix units a CPU has (the fast mode's prerequisite), from /proc/cpuinfo flag lines,
// and the start-log line that says what the transformer computes in.
import { describe, expect, it } from 'vitest';
import { describeCpuMode, parseCpuInt8 } from '../../../src/engine/runtime/cpu-int8.ts';

const info = (flags: string) => `processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 ${flags}\n\nprocessor\t: 1\nflags\t\t: fpu\n`;

describe('CPU int8 units', () => {
  it('prefers AMX, then AVX-512 VNNI, then AVX-VNNI; none without the flags', () => {
    expect(parseCpuInt8(info('avx512f avx512_vnni amx_tile amx_int8 amx_bf16'))).toEqual({ unit: 'AMX', flags: ['amx_int8', 'amx_tile', 'avx512_vnni'] });
    expect(parseCpuInt8(info('avx512f avx512_vnni')).unit).toBe('AVX-512 VNNI');
    expect(parseCpuInt8(info('avx_vnni')).unit).toBe('AVX-VNNI');
    // amx_int8 without the tile state enabled by the kernel is not usable.
    expect(parseCpuInt8(info('amx_int8')).unit).toBeNull();
    expect(parseCpuInt8(info('avx512f'))).toEqual({ unit: null, flags: [] });
    expect(parseCpuInt8('').unit).toBeNull();
  });

  it('the start line names the mode and advises when the set and the CPU do not suit each other', () => {
    const amx = parseCpuInt8(info('amx_tile amx_int8'));
    const none = parseCpuInt8(info(''));
    expect(describeCpuMode(true, 'cpu', amx)).toBe('transformer: fp32 + int8 dynamic (fast mode) on the AMX units');
    expect(describeCpuMode(true, 'cpu', none)).toMatch(/no faster than fp32; rebuild with --preset reference/);
    expect(describeCpuMode(false, 'cpu', amx)).toMatch(/exact mode.*--preset cpu-fast/);
    expect(describeCpuMode(false, 'cpu', none)).toBe('transformer: fp32 (exact mode); no int8 matrix units (no AMX/VNNI flags)');
  });
});
