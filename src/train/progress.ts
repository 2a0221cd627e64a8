/** Training progress: a bar (cli-progress) on a terminal; plain log lines every 2 % of the steps otherwise. */
import cliProgress from 'cli-progress';

const { SingleBar, Presets } = cliProgress;

/** A progress bar (cli-progress) on a terminal; plain log lines every few steps otherwise. */
export class Progress {
  private bar: { update: (n: number, p: Record<string, string>) => void; stop: () => void } | null = null;
  private lastLine = 0;
  constructor(
    private total: number,
    private log: (l: string) => void,
  ) {
    if (process.stderr.isTTY && !process.env.CI) {
      this.bar = new SingleBar(
        {
          format: '  {bar} {value}/{total} steps | {info}',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        Presets.shades_classic,
      );
      (this.bar as unknown as { start: (t: number, v: number, p: Record<string, string>) => void }).start(total, 0, {
        info: '',
      });
    }
  }
  update(step: number, info: string): void {
    if (this.bar) this.bar.update(step, { info });
    else if (step - this.lastLine >= Math.max(1, Math.floor(this.total / 50)) || step === this.total) {
      this.lastLine = step;
      this.log(`  step ${step}/${this.total}  ${info}`);
    }
  }
  clear(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}
