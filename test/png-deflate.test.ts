// srq's PNG deflate (src-core/image/png-deflate.ts): what it writes must inflate with zlib itself, bit for bit, on
// whatever bytes it is given, and its Paeth filter must be PNG's.
import { readFileSync } from 'node:fs';
import { deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cropImage, decodeImage, resizeBicubic } from '../src-core/image/index.ts';
import { adler32, deflateRows, huffmanLengths, paethRows } from '../src-core/image/png-deflate.ts';

const photo = decodeImage(new Uint8Array(readFileSync(new URL('../images/coffee.png', import.meta.url))));

/** A small deterministic generator (the tests must not depend on Math.random). */
function random(seed: number): () => number {
  return () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

const roundTrip = (bytes: Uint8Array) => new Uint8Array(inflateSync(deflateRows(bytes)));

describe('deflateRows', () => {
  it('inflates back exactly through zlib on literals, runs of every length and block boundaries', () => {
    expect(roundTrip(Uint8Array.of(7))).toEqual(Uint8Array.of(7));
    expect(roundTrip(new Uint8Array(0))).toEqual(new Uint8Array(0));
    // A block that opens with a run: its first byte has nothing before it to repeat.
    for (const v of [0, 7, 255]) expect(roundTrip(new Uint8Array(300).fill(v))).toEqual(new Uint8Array(300).fill(v));
    for (let run = 1; run <= 600; run++) {
      const bytes = new Uint8Array(run + 2).fill(9);
      bytes[0] = 1;
      bytes[run + 1] = 2;
      expect(roundTrip(bytes)).toEqual(bytes);
    }
    // Runs across the 256 KiB block boundary, and 0/255 runs that a signed comparison would confuse.
    const big = new Uint8Array((1 << 18) * 2 + 1000);
    const next = random(1);
    for (let i = 0; i < big.length; ) {
      const v = next() < 0.5 ? (next() < 0.5 ? 0 : 255) : Math.floor(next() * 256);
      const len = next() < 0.1 ? Math.floor(next() * 700) : 1;
      for (let k = 0; k < len && i < big.length; k++) big[i++] = v;
    }
    expect(roundTrip(big)).toEqual(big);
  });

  it('stays valid on bytes it cannot compress (its buffer grows past the guess of half the input)', () => {
    const next = random(2);
    const noise = Uint8Array.from({ length: 700_000 }, () => Math.floor(next() * 256));
    const deflated = deflateRows(noise);
    expect(deflated.length / noise.length).toBeGreaterThan(1);
    expect(deflated.length / noise.length).toBeLessThan(1.01);
    expect(new Uint8Array(inflateSync(deflated))).toEqual(noise);
  });

  it('ends with the Adler-32, which equals zlib\'s', () => {
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 255);
    const tail = deflateRows(bytes).slice(-4);
    expect(new DataView(tail.buffer).getUint32(0)).toBe(adler32(bytes));
    expect(adler32(new TextEncoder().encode('Wikipedia'))).toBe(0x11e60398); // RFC 1950's example value
    // zlib's own trailer, on the sums' worst case (every byte 255) and lengths around the 3800-byte blocks and the
    // four-byte steps.
    const zlibAdler = (b: Uint8Array) => {
      const z = deflateSync(b, { level: 0 });
      return z.readUInt32BE(z.length - 4);
    };
    for (const length of [0, 1, 3, 4, 5, 3799, 3800, 3801, 3803, 7600, 1_000_003]) {
      const ones = new Uint8Array(length).fill(255);
      expect(adler32(ones), `255 × ${length}`).toBe(zlibAdler(ones));
    }
    expect(adler32(bytes)).toBe(zlibAdler(bytes));
  });

  it('shrinks an upscaled photo\'s Paeth rows to well under half', () => {
    const upscaled = resizeBicubic(cropImage(photo, 100, 50, 256, 256), 512, 512);
    const rows = paethRows(upscaled.data, upscaled.width, upscaled.height, 3);
    const deflated = deflateRows(rows);
    expect(new Uint8Array(inflateSync(deflated))).toEqual(rows);
    // Measured 0.373 of the raw pixels (a 256² crop of coffee.png, bicubic ×2).
    expect(deflated.length / upscaled.data.length).toBeGreaterThan(0.35);
    expect(deflated.length / upscaled.data.length).toBeLessThan(0.39);
  });
});

describe('huffmanLengths', () => {
  it('limits code lengths and keeps the code complete (Kraft sum exactly 1)', () => {
    // Fibonacci counts make Huffman's deepest code 29 bits: zlib's 15-bit limit must reshape it.
    const fib = [1, 1];
    while (fib.length < 30) fib.push(fib.at(-1)! + fib.at(-2)!);
    for (const [freq, limit] of [[fib, 15], [fib.slice(0, 19), 7], [[5, 0, 0, 3], 15], [[0, 4], 7]] as const) {
      const lengths = huffmanLengths(freq, limit);
      const used = [...lengths].filter((l) => l > 0);
      expect(Math.max(...used)).toBeLessThanOrEqual(limit);
      expect(used.reduce((sum, l) => sum + 2 ** -l, 0)).toBe(1);
      freq.forEach((f, s) => f > 0 && expect(lengths[s]).toBeGreaterThan(0));
    }
  });

  it('keeps a skewed block decodable', () => {
    const fib = [1, 1];
    while (fib.length < 24) fib.push(fib.at(-1)! + fib.at(-2)!);
    const bytes = new Uint8Array(fib.reduce((a, b) => a + b, 0));
    let at = 0;
    // Interleaved so that no runs form: every symbol is a literal with its Fibonacci count.
    const left = [...fib];
    while (at < bytes.length) for (let s = 0; s < left.length; s++) if (left[s]! > 0) (bytes[at++] = s * 7), left[s]!--;
    expect(roundTrip(bytes)).toEqual(bytes);
  });
});

describe('paethRows', () => {
  /** PNG spec §9.4, written plainly. */
  function reference(data: Uint8Array, width: number, height: number, channels: number): Uint8Array {
    const row = width * channels;
    const out = new Uint8Array(height * (row + 1));
    for (let y = 0; y < height; y++) {
      out[y * (row + 1)] = 4;
      for (let i = 0; i < row; i++) {
        const a = i >= channels ? data[y * row + i - channels]! : 0;
        const b = y > 0 ? data[(y - 1) * row + i]! : 0;
        const c = y > 0 && i >= channels ? data[(y - 1) * row + i - channels]! : 0;
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        const guess = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        out[y * (row + 1) + 1 + i] = (data[y * row + i]! - guess) & 255;
      }
    }
    return out;
  }

  it('equals the PNG specification\'s Paeth filter for 1, 3 and 4 channels', () => {
    const next = random(3);
    for (const channels of [1, 2, 3, 4]) {
      const [w, h] = [37, 11];
      const data = Uint8Array.from({ length: w * h * channels }, () => (next() < 0.3 ? 0 : Math.floor(next() * 256)));
      expect(paethRows(data, w, h, channels)).toEqual(reference(data, w, h, channels));
    }
    expect(paethRows(photo.data, photo.width, photo.height, 3)).toEqual(reference(photo.data, photo.width, photo.height, 3));
  });
});
