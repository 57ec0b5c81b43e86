// A one-line progress bar on a terminal; plain periodic lines when stderr is not a TTY (CI logs).
export class Progress {
  private lastPrint = 0;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(fraction: number, detail = ''): void {
    const f = Math.max(0, Math.min(1, fraction));
    const now = Date.now();
    if (this.out.isTTY) {
      const width = 28;
      const full = Math.round(f * width);
      this.out.write(`\r${this.label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}% ${detail}`.slice(0, (this.out.columns ?? 120) - 1).padEnd(Math.min(120, (this.out.columns ?? 120) - 1)));
    } else if (now - this.lastPrint > 5000 || f === 1) {
      this.out.write(`${this.label} ${(f * 100).toFixed(0)}% ${detail}\n`);
      this.lastPrint = now;
    }
  }

  done(detail = ''): void {
    this.update(1, detail);
    if (this.out.isTTY) this.out.write('\n');
  }
}
