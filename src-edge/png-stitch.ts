// One PNG from PNGs of consecutive row bands, encoded at once (png-napi.node.ts): a PNG's pixels are one zlib
// stream, which one encoder writes on one thread, so a band each on as many threads, then joined, is the way to use
// more than one core. Each band's stream is one dynamic-code deflate block (fdeflate's fast mode, @napi-rs/image);
// the joined stream is those blocks one after another, every one but the last marked not final. Two things differ
// from the bands' own streams:
// - a band's first row was filtered (Paeth) against a row of zeros, which for Paeth is the Sub filter; in the joined
//   image it follows the band above, so its filter byte is rewritten from Paeth (4) to Sub (1): the row's filtered
//   bytes are already Sub's;
// - the Adler-32 of the joined rows is combined from the bands' (as zlib's adler32_combine), less that byte's change.
// Empty blocks between bands put each band's symbols on the bit of a byte they have in its own stream, so that they
// are copied as whole bytes. A band whose stream is not of that form (a stored block for a few hundred bytes,
// another encoder) gives undefined: the caller encodes the image whole.

import { PNG_SIGNATURE } from '../src-core/image/header.ts';
import { pngFile } from '../src-core/image/png-encode.ts';

const ADLER_BASE = 65521;
/** PNG's filter types, and deflate's end-of-block symbol. */
const PAETH = 4;
const SUB = 1;
const END_OF_BLOCK = 256;

export type Crc32 = (bytes: Uint8Array) => number;

/** A band's PNG: its IHDR fields and its zlib stream (IDAT chunks joined). */
interface BandPng {
  width: number;
  height: number;
  ihdr: Uint8Array;
  zlib: Uint8Array;
}

function readPng(png: Uint8Array): BandPng | undefined {
  if (png.length < 8 || PNG_SIGNATURE.some((b, i) => png[i] !== b)) return undefined;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idat: Uint8Array[] = [];
  let ihdr: Uint8Array | undefined;
  for (let at = 8; at + 12 <= png.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(png[at + 4]!, png[at + 5]!, png[at + 6]!, png[at + 7]!);
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') ihdr = body;
    else if (type === 'IDAT') idat.push(body);
    at += 12 + length;
  }
  if (!ihdr || ihdr.length !== 13 || idat.length === 0) return undefined;
  const zlib = idat.length === 1 ? idat[0]! : concat(idat);
  const head = new DataView(ihdr.buffer, ihdr.byteOffset, 13);
  return { width: head.getUint32(0), height: head.getUint32(4), ihdr, zlib };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bit i of a deflate stream (bits fill each byte from its lowest). */
function bitAt(bytes: Uint8Array, i: number): number {
  return (bytes[i >>> 3]! >>> (i & 7)) & 1;
}

function readBits(bytes: Uint8Array, at: number, count: number): number {
  let v = 0;
  for (let k = 0; k < count; k++) v |= bitAt(bytes, at + k) << k;
  return v;
}

/** Canonical Huffman codes (RFC 1951 3.2.2) of these code lengths, as their bits in stream order, LSB first. */
function streamCodes(lengths: readonly number[]): number[] {
  const count = new Array<number>(16).fill(0);
  for (const l of lengths) if (l) count[l]!++;
  const next = new Array<number>(16).fill(0);
  for (let bits = 1, code = 0; bits < 16; bits++) {
    code = (code + count[bits - 1]!) << 1;
    next[bits] = code;
  }
  return lengths.map((l) => {
    if (!l) return -1;
    const code = next[l]!++;
    let reversed = 0;
    for (let k = 0; k < l; k++) reversed |= ((code >>> (l - 1 - k)) & 1) << k;
    return reversed;
  });
}

function decodeSymbol(bytes: Uint8Array, at: number, lengths: readonly number[], codes: readonly number[]): [symbol: number, length: number] {
  for (let l = 1; l < 16; l++) {
    const v = readBits(bytes, at, l);
    for (let s = 0; s < lengths.length; s++) if (lengths[s] === l && codes[s] === v) return [s, l];
  }
  return [-1, 0];
}

const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A dynamic block's header (RFC 1951 3.2.7): where its symbols start, and its literal/length code. */
interface BlockHeader {
  final: boolean;
  symbolsAt: number;
  lengths: number[];
  codes: number[];
}

function readDynamicHeader(bytes: Uint8Array, at: number): BlockHeader | undefined {
  const final = readBits(bytes, at, 1) === 1;
  if (readBits(bytes, at + 1, 2) !== 2) return undefined;
  let p = at + 3;
  const literals = readBits(bytes, p, 5) + 257;
  const distances = readBits(bytes, p + 5, 5) + 1;
  const codeLengthCount = readBits(bytes, p + 10, 4) + 4;
  p += 14;
  const clLengths = new Array<number>(19).fill(0);
  for (let i = 0; i < codeLengthCount; i++, p += 3) clLengths[CODE_LENGTH_ORDER[i]!] = readBits(bytes, p, 3);
  const clCodes = streamCodes(clLengths);
  const lengths: number[] = [];
  while (lengths.length < literals + distances) {
    const [s, l] = decodeSymbol(bytes, p, clLengths, clCodes);
    if (s < 0) return undefined;
    p += l;
    if (s < 16) lengths.push(s);
    else {
      const [extra, base, value] = s === 16 ? [2, 3, lengths.at(-1)] : s === 17 ? [3, 3, 0] : [7, 11, 0];
      if (value === undefined) return undefined;
      const repeat = base + readBits(bytes, p, extra);
      p += extra;
      for (let i = 0; i < repeat; i++) lengths.push(value);
    }
  }
  const literalLengths = lengths.slice(0, literals);
  return { final, symbolsAt: p, lengths: literalLengths, codes: streamCodes(literalLengths) };
}

/** Appends bit ranges of other streams, at any bit offset. */
class BitWriter {
  readonly bytes: Uint8Array;
  bit = 0;
  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }
  write(value: number, count: number): void {
    for (let k = 0; k < count; k++, this.bit++) this.bytes[this.bit >>> 3]! |= ((value >>> k) & 1) << (this.bit & 7);
  }
  /** Bits [from, to) of `src`: whole bytes where both sit at the same bit of a byte, else bit by bit (headers). */
  copy(src: Uint8Array, from: number, to: number): void {
    if ((from & 7) !== (this.bit & 7) || to - from < 64) {
      for (let i = from; i < to; i++) this.write(bitAt(src, i), 1);
      return;
    }
    while ((from & 7) !== 0) this.write(bitAt(src, from++), 1);
    const whole = (to - from) >>> 3;
    this.bytes.set(src.subarray(from >>> 3, (from >>> 3) + whole), this.bit >>> 3);
    this.bit += whole * 8;
    for (let i = from + whole * 8; i < to; i++) this.write(bitAt(src, i), 1);
  }
}

/**
 * Empty blocks that bring the stream to `residue` (even) bits past a byte, so that the next band's symbols, after
 * its header and the rewritten filter byte, fall on the bits they have in the band's own stream and copy as whole
 * bytes: a stored block (3 bits, then to the byte, then LEN 0 and NLEN) and 10-bit fixed-code blocks.
 */
function alignFor(writer: BitWriter, residue: number): void {
  writer.write(0, 3); // not final, stored
  writer.bit = Math.ceil(writer.bit / 8) * 8;
  writer.write(0xffff0000, 32); // LEN 0, NLEN 0xffff
  for (let filler = 0; filler < residue; filler += 2) {
    writer.write(0b010, 3); // not final, fixed codes
    writer.write(0, 7); // end of block: 7 zero bits in the fixed code
  }
}

/** Adler-32 of A then B (zlib's adler32_combine), B of `lengthB` bytes. */
function adlerCombine(a: number, b: number, lengthB: number): number {
  const rem = lengthB % ADLER_BASE;
  const aLow = a & 0xffff;
  const low = (aLow + (b & 0xffff) + ADLER_BASE - 1) % ADLER_BASE;
  const high = ((a >>> 16) + (b >>> 16) + ADLER_BASE - rem + ((rem * aLow) % ADLER_BASE)) % ADLER_BASE;
  return ((high << 16) | low) >>> 0;
}

/** Adler-32 of bytes whose first byte changed by `delta`, `length` bytes in all. */
function adlerWithFirstByte(adler: number, delta: number, length: number): number {
  const mod = (v: number) => ((v % ADLER_BASE) + ADLER_BASE) % ADLER_BASE;
  const low = mod((adler & 0xffff) + delta);
  const high = mod((adler >>> 16) + mod(delta * (length % ADLER_BASE)));
  return ((high << 16) | low) >>> 0;
}

/**
 * The PNG of the bands stacked top to bottom, or undefined where a band is not a single-block zlib stream whose
 * rows are Paeth-filtered from a first row of that filter (the form this joins). `crc32`: the runtime's fastest.
 */
export function stitchPngBands(bands: readonly Uint8Array[], crc32: Crc32): Uint8Array | undefined {
  const pngs = bands.map(readPng);
  if (pngs.length === 0 || pngs.some((p) => !p || p.width !== pngs[0]!.width)) return undefined;
  const first = pngs[0]!;
  const channels = CHANNELS[first.ihdr[9]!];
  if (first.ihdr[8] !== 8 || first.ihdr[12] !== 0 || channels === undefined) return undefined; // 8-bit, not interlaced
  if (pngs.some((p) => p!.ihdr.subarray(8).some((b, i) => b !== first.ihdr[8 + i]))) return undefined;
  const rowBytes = first.width * channels + 1; // a filtered row: filter byte, then samples
  const writer = new BitWriter(pngs.reduce((n, p) => n + p!.zlib.length + 16, 0));
  writer.bytes[0] = first.zlib[0]!; // the zlib header
  writer.bytes[1] = first.zlib[1]!;
  writer.bit = 16;
  let adler = 1;
  let height = 0;
  for (let k = 0; k < pngs.length; k++) {
    const { zlib, height: rows } = pngs[k]!;
    if (zlib.length < 7 || (zlib[0]! & 0x0f) !== 8 || (zlib[1]! & 0x20) !== 0) return undefined;
    const header = readDynamicHeader(zlib, 16);
    if (!header?.final) return undefined;
    const { lengths, codes } = header;
    // The block ends with its end-of-block code and zero bits to the byte: where that code ends with a 1, its end
    // is the last byte's highest 1.
    const eobLength = lengths[END_OF_BLOCK]!;
    const eobCode = codes[END_OF_BLOCK]!;
    if (!eobLength || ((eobCode >>> (eobLength - 1)) & 1) !== 1) return undefined;
    const lastByte = zlib[zlib.length - 5]!;
    if (lastByte === 0) return undefined;
    const end = (zlib.length - 5) * 8 + (31 - Math.clz32(lastByte)) + 1;
    if (readBits(zlib, end - eobLength, eobLength) !== eobCode) return undefined;
    const last = k === pngs.length - 1;
    const trailer = new DataView(zlib.buffer, zlib.byteOffset + zlib.length - 4, 4).getUint32(0);
    const bytes = rows * rowBytes;
    if (k === 0) {
      writer.write(last ? 1 : 0, 1);
      writer.copy(zlib, 17, end);
      adler = trailer;
    } else {
      // The band's first symbol is its first row's filter byte, Paeth: written as Sub.
      const [paeth, sub] = [lengths[PAETH]!, lengths[SUB]!];
      if (!paeth || !sub || readBits(zlib, header.symbolsAt, paeth) !== codes[PAETH]) return undefined;
      // Fillers come in steps of 2 bits: a code whose two filter bytes' lengths differ by an odd count is not joined.
      if ((paeth - sub) % 2 !== 0) return undefined;
      alignFor(writer, (paeth - sub) & 7);
      writer.write(last ? 1 : 0, 1);
      writer.copy(zlib, 17, header.symbolsAt);
      writer.write(codes[SUB]!, sub);
      writer.copy(zlib, header.symbolsAt + paeth, end);
      adler = adlerCombine(adler, adlerWithFirstByte(trailer, SUB - PAETH, bytes), bytes);
    }
    height += rows;
  }
  const streamEnd = Math.ceil(writer.bit / 8);
  new DataView(writer.bytes.buffer).setUint32(streamEnd, adler);
  return pngFile({ width: first.width, height, channels }, writer.bytes.subarray(0, streamEnd + 4), crc32);
}

/** Samples a pixel by PNG colour type, for the rasters srq encodes: grey, RGB, RGBA. */
const CHANNELS: Record<number, 1 | 3 | 4> = { 0: 1, 2: 3, 6: 4 };
