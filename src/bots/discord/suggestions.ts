// Prompt suggestions waiting for "Animate with this prompt" or an edit: kept in memory, looked up
// by an opaque id from the button, owned by the user who asked, dropped after a while. Each keeps a
// small re-encoded copy of the image (≤1024 px JPEG), and all of them together a capped number of
// bytes, oldest dropped first, so waiting suggestions cannot fill the memory.
import { randomBytes } from 'node:crypto';
import { ByteCappedStore } from '../common/byte-capped-store.ts';
import { SUGGESTION_STORE_BYTES, suggestionCopy, suggestionCopyName } from '../common/suggestion-copy.ts';
import type { ImageInput } from './image-input.ts';

export interface Suggestion {
  userId: string;
  image: ImageInput;
  prompt: string;
  createdAt: number;
}

export class SuggestionStore {
  private readonly items: ByteCappedStore<Suggestion>;

  constructor(
    private readonly ttlMs = 15 * 60_000,
    maxItems = 200,
    private readonly now: () => number = Date.now,
    maxBytes = SUGGESTION_STORE_BYTES,
  ) {
    this.items = new ByteCappedStore(maxBytes, maxItems);
  }

  /** Stores a small copy of the image with the prompt; rejects if the image cannot be decoded. */
  async add(s: Omit<Suggestion, 'createdAt'>): Promise<string> {
    const copy = await suggestionCopy(s.image.bytes);
    this.prune();
    const id = randomBytes(9).toString('base64url');
    const image: ImageInput = { bytes: copy.bytes, name: suggestionCopyName(s.image.name), width: copy.width, height: copy.height };
    this.items.set(id, { ...s, image, createdAt: this.now() }, copy.bytes.length);
    return id;
  }

  get(id: string): Suggestion | undefined {
    this.prune();
    return this.items.get(id);
  }

  /** Total bytes of the stored images. */
  get bytes(): number {
    return this.items.bytes;
  }

  private prune(): void {
    const oldest = this.now() - this.ttlMs;
    for (const [id, s] of this.items.entries()) if (s.createdAt < oldest) this.items.delete(id);
  }
}
