import type { Int64 } from './types.ts';

/** An int64 field as a JS number. Throws on values beyond 2^53, which no dimension or attribute srq reads has. */
export function toNumber(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  const n = v.toNumber();
  if (!Number.isSafeInteger(n)) throw new RangeError(`int64 value ${v.toString()} does not fit a JS number`);
  return n;
}

/** An int64 field as a bigint (lossless, for int64 tensor data). */
export function toBigInt(v: Int64 | null | undefined): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(v);
  return BigInt(v.toString());
}
