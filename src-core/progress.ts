// Progress lines for long loops (calibration passes, bias correction, validation, the fallback search's ranking),
// with an estimate of the time left: big models take many minutes per step, and a user deciding whether to wait
// (or a CI log reader) needs "how long", not only "how far".

/** m:ss, or h:mm:ss from an hour. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const mmss = `${h > 0 ? String(m).padStart(2, '0') : m}:${String(s).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

/**
 * Reports step `done` of `total` as "<label> <done>/<total> · m:ss left". The estimate is the mean time of the
 * steps after the first (the first one also loads the model into a session), so it settles after two steps;
 * the last step says how long the loop took.
 */
export function stepProgress(label: string, total: number, report: ((message: string) => void) | undefined, now: () => number = () => performance.now()): (done: number, detail?: string) => void {
  const started = now();
  let firstDone: number | undefined;
  return (done, detail) => {
    const t = now();
    if (done === 1) firstDone = t;
    if (!report) return;
    let time: string;
    if (done >= total) time = `took ${formatDuration(t - started)}`;
    else if (done >= 2 && firstDone !== undefined) time = `${formatDuration(((t - firstDone) / (done - 1)) * (total - done))} left`;
    else time = `${formatDuration((t - started) * (total - done))} left`;
    report(`${label} ${done}/${total}${detail ? ` (${detail})` : ''} · ${time}`);
  };
}
