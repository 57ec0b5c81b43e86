export interface BenchContext {
  /** Figures of earlier sections, e.g. results['matmul-peak.gflops']. */
  results: Record<string, number>;
}
export type Section = (ctx: BenchContext) => Promise<void>;

/** Prints aligned `label  value  unit` rows. */
export function table(rows: [string, string | number, string?][]): void {
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [label, value, unit] of rows) {
    const v = typeof value === 'number' ? (Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4)) : value;
    console.log(`  ${label.padEnd(w)}  ${String(v).padStart(10)}  ${unit ?? ''}`);
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
