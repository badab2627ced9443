// The peak resident memory of each step of a model's job, so that the log can say which step needs what (and the
// memory plan can be checked against it). Node-only (process.memoryUsage, and the high-water mark of peak-rss.node.ts).
// Two readings, because neither alone sees every peak: RSS sampled every 100 ms while ORT runs (the event loop is
// free then), and the process's high-water mark, which catches a new peak reached inside synchronous work
// (a graph rewrite, an encode) that no sample lands in; a rise of the mark is charged to the step it rose in.
import { totalmem } from 'node:os';
import { peakResidentBytes } from '../../src-core/runtime/peak-rss.node.ts';

export interface StepMemory {
  step: string;
  /** Highest resident set size seen while the step ran (bytes). */
  peakBytes: number;
}

export class MemoryWatch {
  private readonly peaks = new Map<string, number>();
  private current: string;
  private highWater: number;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(first: string, private readonly read: () => { rss: number; highWater: number } = readProcess, intervalMs = 100) {
    this.current = first;
    const now = read();
    this.highWater = now.highWater;
    this.peaks.set(first, now.rss);
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref?.();
  }

  /** Ends the current step (with a last sample) and starts `name`; a name seen before adds to its own peak. */
  step(name: string): void {
    this.sample();
    this.current = name;
    this.sample();
  }

  /** Each step's peak, in the order the steps first ran; stops sampling. */
  stop(): StepMemory[] {
    this.sample();
    clearInterval(this.timer);
    return [...this.peaks].map(([step, peakBytes]) => ({ step, peakBytes }));
  }

  private sample(): void {
    const { rss, highWater } = this.read();
    // A high-water mark that rose since the last sample was reached in this step.
    const peak = Math.max(rss, highWater > this.highWater ? highWater : 0);
    this.highWater = Math.max(this.highWater, highWater);
    this.peaks.set(this.current, Math.max(this.peaks.get(this.current) ?? 0, peak));
  }
}

function readProcess(): { rss: number; highWater: number } {
  return { rss: residentBytes(), highWater: peakResidentBytes() };
}

/** This process's resident set size now (bytes). */
export function residentBytes(): number {
  return process.memoryUsage.rss();
}

/** The memory budget per model when none is given (GB): 90% of this machine's memory, the rest left to the OS. */
export function defaultMemoryBudget(): number {
  return Math.floor((totalmem() * 0.9) / 1e8) / 10;
}

/** "calibration 1.80 GB, validation 0.91 GB, …": each step's peak. */
export function memoryLine(steps: readonly StepMemory[]): string {
  return steps.map((s) => `${s.step} ${gb(s.peakBytes)}`).join(', ');
}

export function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(2)} GB`;
}
