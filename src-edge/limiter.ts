// At most `maxActive` upscales at once, `maxQueued` more waiting in arrival order; beyond that the caller
// answers 429. One per process/isolate: inference is CPU- and memory-bound, so more at once only makes
// every request slower (and on Workers 128 MB is shared by the whole isolate).

export class ConcurrencyLimiter {
  private readonly maxActive: number;
  private readonly maxQueued: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Recent mean time a slot is held (ms), for Retry-After. */
  private meanHoldMs = 1000;

  constructor(maxActive: number, maxQueued: number) {
    this.maxActive = maxActive;
    this.maxQueued = maxQueued;
  }

  /** A promise of a release function, or undefined when the queue is full. */
  tryAcquire(): Promise<() => void> | undefined {
    if (this.active < this.maxActive) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxQueued) return undefined;
    return new Promise((resolve) => this.waiting.push(() => resolve(this.releaser())));
  }

  /** Seconds until a slot is likely free: the work ahead divided among the slots. */
  retryAfterSeconds(): number {
    const ahead = this.active + this.waiting.length;
    return Math.max(1, Math.ceil((ahead / this.maxActive) * this.meanHoldMs / 1000));
  }

  get inUse(): { active: number; queued: number } {
    return { active: this.active, queued: this.waiting.length };
  }

  private releaser(): () => void {
    const started = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.meanHoldMs = 0.8 * this.meanHoldMs + 0.2 * (Date.now() - started);
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.active--;
    };
  }
}
