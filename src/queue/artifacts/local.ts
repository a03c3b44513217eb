// The artifact store of the single-machine mode: files under `${dataDir}/artifacts/<key>`. Written
// to a temporary name and renamed, so a reader never sees half a file.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { jobPrefix, type ArtifactStore } from './artifact-store.ts';

export class LocalArtifactStore implements ArtifactStore {
  readonly description: string;
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = path.resolve(dataDir, 'artifacts');
    this.description = `local:${this.root}`;
  }

  private file(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(`${this.root}${path.sep}`)) throw new Error(`Not an artifact key: ${JSON.stringify(key)}`);
    return file;
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.partial`, bytes);
    await rename(`${file}.partial`, file);
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.file(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async deleteJob(jobId: string): Promise<void> {
    await rm(this.file(jobPrefix(jobId)), { recursive: true, force: true });
  }

  async close(): Promise<void> {}
}
