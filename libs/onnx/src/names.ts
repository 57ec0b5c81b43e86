// Unique value/node names: the hint itself when free, else hint_1, hint_2...
export class NameScope {
  private readonly used = new Set<string>();
  private readonly next = new Map<string, number>();

  reserve(name: string): void {
    this.used.add(name);
  }

  has(name: string): boolean {
    return this.used.has(name);
  }

  /** A name not used before, derived from the hint, and reserved. */
  fresh(hint: string): string {
    let name = hint;
    if (this.used.has(name)) {
      let k = this.next.get(hint) ?? 1;
      while (this.used.has(`${hint}_${k}`)) k++;
      this.next.set(hint, k + 1);
      name = `${hint}_${k}`;
    }
    this.used.add(name);
    return name;
  }
}
