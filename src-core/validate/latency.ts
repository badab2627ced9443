// Per-tile latency of several models, measured so that their ratio means something on a shared, noisy machine:
// warm-up runs first, then the models take turns (a, b, c, a, b, c...), and the median of each one's runs counts.
// Runtime-agnostic.
import type { Runner } from '../runtime/runner.ts';

export interface TileLatency {
  medianMs: number;
  minMs: number;
  samplesMs: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function tileLatencies(
  runners: readonly Runner[],
  tile: { data: Float32Array; dims: readonly number[] },
  opts: { runs?: number; warmup?: number } = {},
): Promise<TileLatency[]> {
  const runs = opts.runs ?? 9;
  const warmup = opts.warmup ?? 2;
  for (const r of runners) for (let i = 0; i < warmup; i++) await r.run(tile.data, tile.dims);
  const samples = runners.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, r] of runners.entries()) {
      const started = performance.now();
      await r.run(tile.data, tile.dims);
      samples[k]!.push(performance.now() - started);
    }
  }
  return samples.map((s) => ({ medianMs: median(s), minMs: Math.min(...s), samplesMs: s }));
}
