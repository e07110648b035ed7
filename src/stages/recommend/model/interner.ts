/** String id ↔ dense integer id, so hot state can live in typed arrays and integer-keyed Maps. */
export class IdInterner {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];

  /** `maxSize`: how many names `tryIntern` accepts (ids are never freed: they index typed arrays elsewhere). */
  constructor(readonly maxSize = Infinity) {}

  /** Names `tryIntern` refused because the interner was full. */
  refused = 0;

  /** The id of `name`, allocated on first sight while fewer than `maxSize` names are held; -1 once full. */
  tryIntern(name: string): number {
    const id = this.ids.get(name);
    if (id !== undefined) return id;
    if (this.names.length >= this.maxSize) {
      this.refused++;
      return -1;
    }
    return this.intern(name);
  }

  /** The integer id of `name`, allocating the next one on first sight. */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  /** The id of `name`, or -1 when it was never interned. */
  lookup(name: string): number {
    return this.ids.get(name) ?? -1;
  }

  name(id: number): string {
    const n = this.names[id];
    if (n === undefined) throw new Error(`unknown interned id ${id}`);
    return n;
  }

  get size(): number {
    return this.names.length;
  }
}
