// How the job talks while it works. The CLI prints to the terminal; the Action maps this onto @actions/core (log
// groups, warning annotations). Runtime-agnostic.

export interface JobLog {
  info(message: string): void;
  /** A problem that does not stop the run; `file` (workspace-relative) is where an annotation points. */
  warning(message: string, file?: string): void;
  /** Progress of a long step (calibration tiles, validation images): may be thinned out. */
  progress(message: string): void;
  /** A titled section around one model's work. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

/** Keep at most one progress line per `intervalMs` (logs are read by people, not replayed). */
export function throttled(write: (message: string) => void, intervalMs: number): (message: string) => void {
  let last = -Infinity;
  return (message) => {
    const now = performance.now();
    if (now - last < intervalMs) return;
    last = now;
    write(message);
  };
}

/** A log that says nothing (tests, library use). */
export const silentLog: JobLog = {
  info: () => {},
  warning: () => {},
  progress: () => {},
  group: (_title, fn) => fn(),
};
