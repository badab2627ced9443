import type { Int64 } from './types.ts';

/** An int64 field as a JS number. Throws on values beyond 2^53, which no dimension or attribute srq reads has. */
export function toNumber(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  // A Long, or a plain { low, high } left by a structured clone.
  const n = typeof v.toNumber === 'function' ? v.toNumber() : (v.high >>> 0) * 2 ** 32 + (v.low >>> 0) - (v.high < 0 ? 2 ** 64 : 0);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int64 value ${v.toString()} does not fit a JS number`);
  return n;
}

/** An int64 field as a bigint (lossless, for int64 tensor data). */
export function toBigInt(v: Int64 | null | undefined): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v.toString === 'function' && v.toString !== Object.prototype.toString) return BigInt(v.toString());
  return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
}
