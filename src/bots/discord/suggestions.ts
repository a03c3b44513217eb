// Prompt suggestions waiting for "Animate with this prompt" or an edit: kept in memory, looked up
// by an opaque id from the button, owned by the user who asked, dropped after a while.
import { randomBytes } from 'node:crypto';
import type { ImageInput } from './image-input.ts';

export interface Suggestion {
  userId: string;
  image: ImageInput;
  prompt: string;
  createdAt: number;
}

export class SuggestionStore {
  private readonly items = new Map<string, Suggestion>();

  constructor(
    private readonly ttlMs = 15 * 60_000,
    private readonly maxItems = 200,
    private readonly now: () => number = Date.now,
  ) {}

  add(s: Omit<Suggestion, 'createdAt'>): string {
    this.prune();
    const id = randomBytes(9).toString('base64url');
    this.items.set(id, { ...s, createdAt: this.now() });
    while (this.items.size > this.maxItems) this.items.delete(this.items.keys().next().value!);
    return id;
  }

  get(id: string): Suggestion | undefined {
    this.prune();
    return this.items.get(id);
  }

  private prune(): void {
    const oldest = this.now() - this.ttlMs;
    for (const [id, s] of this.items) if (s.createdAt < oldest) this.items.delete(id);
  }
}
