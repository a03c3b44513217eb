// Where a job's files live: `${dataDir}/jobs/<id>/input.<ext>`, the optional `end.<ext>` (end image)
// and `${dataDir}/jobs/<id>/work`.
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';

export function jobsRoot(dataDir: string): string {
  return path.resolve(dataDir, 'jobs');
}

export function jobDir(dataDir: string, id: string): string {
  return path.join(jobsRoot(dataDir), id);
}

/** A short lowercase extension from the original name, or 'img' when it is missing or odd. */
export function safeExtension(imageName: string): string {
  const ext = path.extname(imageName).slice(1).toLowerCase();
  return /^[a-z0-9]{1,5}$/.test(ext) ? ext : 'img';
}

/** Writes the input image (and end image) and creates the work dir; resolves once all are on disk. */
export async function saveJobFiles(
  dataDir: string,
  id: string,
  image: Buffer,
  imageName: string,
  end?: { image: Buffer; name: string },
): Promise<{ imagePath: string; workDir: string; endImagePath?: string }> {
  const dir = jobDir(dataDir, id);
  const workDir = path.join(dir, 'work');
  await mkdir(workDir, { recursive: true });
  const imagePath = path.join(dir, `input.${safeExtension(imageName)}`);
  // No fsync: the store (SQLite WAL, synchronous=NORMAL) survives a process crash, not a power
  // cut, and the image gets the same guarantee.
  await writeFile(imagePath, image);
  if (!end) return { imagePath, workDir };
  const endImagePath = path.join(dir, `end.${safeExtension(end.name)}`);
  await writeFile(endImagePath, end.image);
  return { imagePath, workDir, endImagePath };
}

export async function removeJobFiles(dataDir: string, id: string): Promise<void> {
  await rm(jobDir(dataDir, id), { recursive: true, force: true });
}

/** Total bytes of the files under a directory (0 when it does not exist). */
export async function directoryBytes(dir: string): Promise<number> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    try {
      total += (await stat(path.join(entry.parentPath, entry.name))).size;
    } catch {
      // Removed while we walked: counts as nothing.
    }
  }
  return total;
}

/** Job directories on disk (ids), for finding leftovers of a submit that never finished. */
export async function listJobDirs(dataDir: string): Promise<string[]> {
  try {
    const entries = await readdir(jobsRoot(dataDir), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
