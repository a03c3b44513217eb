// The artifact store of the single-machine mode: a key is a path under DATA_DIR (`jobs/<id>/…`), the
// same layout the queue has always used, so the engine reads its input and writes its videos and
// checkpoint straight into the store. Writes go to a temporary name and are renamed, so a reader
// never sees half a file; files are linked, not copied, where they already are on this disk.
import { copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { directoryBytes } from '../job-files.ts';
import { jobPrefix, type ArtifactStore } from './artifact-store.ts';

export class LocalArtifactStore implements ArtifactStore {
  readonly description: string;
  private readonly root: string;
  private readonly jobsRoot: string;

  constructor(dataDir: string) {
    this.root = path.resolve(dataDir);
    this.jobsRoot = path.join(this.root, 'jobs');
    this.description = `local:${this.root}`;
  }

  private file(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(`${this.jobsRoot}${path.sep}`)) throw new Error(`Not an artifact key: ${JSON.stringify(key)}`);
    return file;
  }

  localPath(key: string): string {
    return this.file(key);
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.partial`, bytes);
    await rename(`${file}.partial`, file);
  }

  async putFile(key: string, source: string): Promise<void> {
    const file = this.file(key);
    if (path.resolve(source) === file) return;
    await mkdir(path.dirname(file), { recursive: true });
    await linkOrCopy(source, `${file}.partial`);
    await rename(`${file}.partial`, file);
  }

  async fetchFile(key: string, target: string): Promise<boolean> {
    const file = this.file(key);
    if (path.resolve(target) === file) return existsFile(file);
    if (!(await existsFile(file))) return false;
    await mkdir(path.dirname(target), { recursive: true });
    await linkOrCopy(file, `${target}.partial`);
    await rename(`${target}.partial`, target);
    return true;
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.file(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async jobBytes(jobId: string): Promise<number> {
    return directoryBytes(this.file(jobPrefix(jobId)));
  }

  async deleteJob(jobId: string): Promise<void> {
    await rm(this.file(jobPrefix(jobId)), { recursive: true, force: true });
  }

  async close(): Promise<void> {}
}

/** A hard link (no bytes copied) where both names are on one filesystem, else a copy. */
async function linkOrCopy(source: string, target: string): Promise<void> {
  await rm(target, { force: true });
  try {
    await link(source, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw error;
    await copyFile(source, target);
  }
}

async function existsFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
