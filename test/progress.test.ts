// Progress lines with the time left (src-core/progress.ts), on a fake clock.
import { describe, expect, it } from 'vitest';
import { formatDuration, stepProgress } from '../src-core/progress.ts';

describe('progress with time left', () => {
  it('formats durations as m:ss, and h:mm:ss from an hour', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(59_400)).toBe('0:59');
    expect(formatDuration(61_000)).toBe('1:01');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
  });

  it('estimates from the steps after the first (which also loads the session), and says how long the loop took', () => {
    let t = 0;
    const lines: string[] = [];
    const done = stepProgress('calibration min/max: tile', 5, (m) => lines.push(m), () => t);
    t = 20_000; done(1); // session creation + one tile
    t = 24_000; done(2);
    t = 28_000; done(3, 'x');
    t = 32_000; done(4);
    t = 36_000; done(5);
    expect(lines).toEqual([
      'calibration min/max: tile 1/5 · 1:20 left',
      'calibration min/max: tile 2/5 · 0:12 left',
      'calibration min/max: tile 3/5 (x) · 0:08 left',
      'calibration min/max: tile 4/5 · 0:04 left',
      'calibration min/max: tile 5/5 · took 0:36',
    ]);
  });

  it('reports nothing without a reporter', () => {
    expect(() => stepProgress('x', 2, undefined)(1)).not.toThrow();
  });
});
