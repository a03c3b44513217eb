// `recurvid models tiny|list` (and `pull`, registered by ./models-pull.ts).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../log.ts';
import { readManifest } from '../../engine/modelset/manifest.ts';
import { formatMemory, modelSetMemory } from '../../engine/conversion/memory.ts';
import { makeTinyModelSet } from '../../engine/conversion/tiny.ts';
import { registerPull } from './models-pull.ts';
import { parsePrecisionFlags, precisionLabel, type PrecisionFlags } from '../../engine/modelset/precision.ts';
import { addPrecisionOptions } from '../precision-options.ts';

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

export async function listModelSets(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const lines: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    const dir = join(root, e.name);
    if (!e.isDirectory() || !existsSync(join(dir, 'manifest.json'))) continue;
    const m = await readManifest(dir);
    const parts = Object.values(m.components).map((c) => `${c!.component}(${c!.dtype})`);
    const gb = (await folderBytes(dir)) / 1e9;
    lines.push(`${dir}  ${m.tiny ? 'tiny (random weights, noise output)' : 'converted'}  ${gb.toFixed(2)} GB  ${parts.join(' ')}`);
    lines.push('  weights once loaded, per mode:', ...formatMemory(await modelSetMemory(dir, m)));
  }
  return lines;
}

export function register(program: Command): void {
  const models = program.command('models').description('make, download or list model sets');

  const tiny = models
    .command('tiny')
    .description('build the tiny model set (seeded random weights; runs in seconds on a CPU, its video is noise)')
    .option('--out <dir>', 'where to write it', 'models/tiny')
    .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 0);
  addPrecisionOptions(tiny)
    .action(async (flags: { out: string; seed: number } & PrecisionFlags) => {
      const p = parsePrecisionFlags(flags);
      if (p.presetChoice) process.stdout.write(`${p.presetChoice}.\n`);
      const started = Date.now();
      const m = await makeTinyModelSet(flags.out, {
        seed: flags.seed,
        log: createLogger({ LOG_LEVEL: 'warn' }),
        precision: p.precision,
        attention: p.attention,
        ...(p.quant ? { quant: p.quant } : {}),
      });
      process.stdout.write(
        `Tiny model set in ${flags.out} (${Object.keys(m.components).join(', ')}; ${precisionLabel(p.precision, p.quant)}) built in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`,
      );
    });

  models
    .command('list')
    .description('list model sets under a folder')
    .option('--root <dir>', 'folder holding model sets', 'models')
    .action(async (flags: { root: string }) => {
      const lines = await listModelSets(flags.root);
      process.stdout.write(lines.length ? `${lines.join('\n')}\n` : `No model sets under ${flags.root}.\n`);
    });

  // ---- `models pull`: its own module, ./models-pull.ts ----
  registerPull(models);
}
