// An in-memory map bounded by a count and by the total bytes its values hold: adding past either
// cap drops the oldest entries first. The prompt suggestion stores use it so that waiting images
// cannot grow the process without limit, however many /prompt requests arrive.

export class ByteCappedStore<T> {
  private readonly items = new Map<string, { value: T; bytes: number }>();
  private total = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxItems: number,
  ) {}

  /** Stores (or replaces, as the newest) a value of `bytes` size; evicts the oldest over the caps. */
  set(id: string, value: T, bytes: number): void {
    this.delete(id);
    this.items.set(id, { value, bytes });
    this.total += bytes;
    // Map order is insertion order, so the first key is the oldest. The newest always stays,
    // even alone over the byte cap, so the suggestion just offered still works.
    while ((this.total > this.maxBytes || this.items.size > this.maxItems) && this.items.size > 1) {
      this.delete(this.items.keys().next().value!);
    }
  }

  get(id: string): T | undefined {
    return this.items.get(id)?.value;
  }

  delete(id: string): void {
    const item = this.items.get(id);
    if (!item) return;
    this.items.delete(id);
    this.total -= item.bytes;
  }

  /** Oldest first. */
  entries(): Array<[string, T]> {
    return [...this.items].map(([id, item]) => [id, item.value]);
  }

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.items.size;
  }
}
