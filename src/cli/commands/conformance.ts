// `recurvid conformance <dir>`: checks our graphs against a golden set (or every set below a folder,
// e.g. the golden root). One line per compared output (a case that throws is one FAIL line and the
// run goes on), a last line starting PASS or FAIL; exit 0 only on pass.
import { Option, type Command } from 'commander';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { conformanceHandlers } from '../../conformance/handlers.ts';
import type { ConformanceHandler, ConformanceLine } from '../../conformance/types.ts';
import { describeMode, type ConformanceMode } from '../../conformance/modes.ts';
import { parsePrecisionFlags, type PrecisionFlags } from '../../engine/modelset/precision.ts';
import { addPrecisionOptions } from '../precision-options.ts';
import type { ExecutionProvider } from '../../engine/runtime/session.ts';

export interface FoundSet {
  dir: string;
  handler: ConformanceHandler;
}

/** The folder itself when a handler accepts it, else the sets found in its subfolders (depth-limited). */
export async function findConformanceSets(dir: string, handlers = conformanceHandlers, depth = 3): Promise<FoundSet[]> {
  for (const handler of handlers) if (await handler.detect(dir)) return [{ dir, handler }];
  if (depth === 0) return [];
  const found: FoundSet[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory() && !e.name.startsWith('.')) found.push(...(await findConformanceSets(join(dir, e.name), handlers, depth - 1)));
  }
  return found;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(3) : String(x));

export function formatLine(set: string, l: ConformanceLine): string {
  const rel = l.relL2 !== undefined ? `, rel L2 ${fmt(l.relL2)}` : '';
  return `${l.pass ? 'ok  ' : 'FAIL'} ${set} ${l.name}: max abs ${fmt(l.maxAbs)}, max rel ${fmt(l.maxRel)}${rel} (atol ${l.atol})${l.note ? ` ${l.note}` : ''}`;
}

const isDefaultMode = (m: ConformanceMode) =>
  (m.precision ?? 'fp32') === 'fp32' && (m.quant ?? 'none') === 'none' && (m.provider ?? 'cpu') === 'cpu';

/**
 * Runs every set; returns the printed lines and whether all passed. A non-default mode runs on the
 * handlers that have modes (transformer, VAE) and says which sets it skipped.
 */
export async function runConformance(dir: string, write: (line: string) => void, mode: ConformanceMode = {}): Promise<boolean> {
  const found = await findConformanceSets(dir);
  const sets = isDefaultMode(mode) ? found : found.filter((s) => s.handler.modes === true);
  for (const s of found) if (!sets.includes(s)) write(`skip [${s.handler.kind}] ${s.dir}: only fp32 on cpu is checked for this kind`);
  if (!isDefaultMode(mode)) write(`mode: ${describeMode(mode)}`);
  if (sets.length === 0) {
    write(`FAIL no golden set recognised in ${dir}`);
    return false;
  }
  let failed = 0;
  let checks = 0;
  for (const s of sets) {
    try {
      for (const l of await s.handler.run(s.dir, mode)) {
        checks++;
        if (!l.pass) failed++;
        write(formatLine(`[${s.handler.kind}] ${s.dir}`, l));
      }
    } catch (err) {
      // The handler could not even list its cases (unreadable set): that is one failed check, and
      // the other sets still run.
      checks++;
      failed++;
      write(`FAIL [${s.handler.kind}] ${s.dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  write(failed === 0 ? `PASS ${checks} checks in ${sets.length} set(s)` : `FAIL ${failed} of ${checks} checks failed in ${sets.length} set(s)`);
  return failed === 0;
}

export function register(program: Command): void {
  const cmd = program
    .command('conformance')
    .description('check our graphs against a golden reference set, or every set below a folder')
    .argument('<dir>', 'golden set folder (or a parent such as tests/fixtures/golden)')
    .addOption(new Option('--provider <name>', 'execution provider').choices(['cpu', 'webgpu', 'cuda']).default('cpu'));
  addPrecisionOptions(cmd).action(async (dir: string, flags: PrecisionFlags & { provider: ExecutionProvider }) => {
    const p = parsePrecisionFlags(flags);
    // --attention's default (fused) gives way to the provider's default unless composed is asked for.
    const mode: ConformanceMode = {
      precision: p.precision,
      quant: p.quantMode,
      blockSize: p.blockSize,
      provider: flags.provider,
      ...(p.attention === 'composed' ? { attention: 'composed' as const } : {}),
    };
    const ok = await runConformance(dir, (line) => process.stdout.write(`${line}\n`), mode);
    process.exitCode = ok ? 0 : 1;
  });
}
