// Helpers shared by the encoder converters: provenance records and folder checks.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { describeSourceFile, ModelSetError, type SourceFile } from '../modelset/manifest.ts';
import { checkpointFiles } from '../safetensors.ts';

/** Size and sha256 of each file, paths relative to `root`-less names as given. */
export async function describeSources(dir: string, names: string[]): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    out.push(await describeSourceFile(path, `${basename(dir)}/${name}`));
  }
  return out;
}

function missingFile(dir: string, name: string, what: string): ModelSetError {
  return new ModelSetError(`${what}: ${join(dir, name)} is missing.`);
}

export function requireFile(dir: string, name: string, what: string): void {
  if (!existsSync(join(dir, name))) throw missingFile(dir, name, what);
}

/** Checks config.json's model_type and that the weights (single file or every shard) are present; returns weight file names. */
export async function checkWeightsFolder(dir: string, modelTypes: string[], what: string): Promise<string[]> {
  requireFile(dir, 'config.json', what);
  const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { model_type?: string };
  if (!cfg.model_type || !modelTypes.includes(cfg.model_type)) {
    throw new ModelSetError(`${what}: ${join(dir, 'config.json')} has model_type ${String(cfg.model_type)}, expected ${modelTypes.join(' or ')}.`);
  }
  const checkpoint = await checkpointFiles(dir, 'model');
  if (!checkpoint) throw missingFile(dir, 'model.safetensors', what);
  const names = [...(checkpoint.index ? [checkpoint.index] : []), ...checkpoint.weights].map((p) => relative(dir, p));
  for (const name of names) requireFile(dir, name, what);
  return names;
}

/** Copies the listed files that exist from `from` to `to`; returns the copied names. */
export async function copyExisting(from: string, to: string, names: string[]): Promise<string[]> {
  await mkdir(to, { recursive: true });
  const copied: string[] = [];
  for (const n of names) {
    if (!existsSync(join(from, n))) continue;
    await copyFile(join(from, n), join(to, n));
    copied.push(n);
  }
  return copied;
}
