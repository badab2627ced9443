// PNG's IDAT for upscaled photos, fast in plain JS on every runtime (Node, Deno, Workers, browsers), after fpng's
// idea: filters and entropy coding matter, string matching does not. Rows are Paeth-filtered (an upscaler's output
// is smooth in both directions, so the gradient guess leaves small residues: order-0 entropy on four 1024² upscaled
// photos 0.76–1.10 MB, Up 1.17–1.62, none 2.85–3.03), then deflated as literals and runs of a repeated byte
// (distance 1, flat areas), each block with its own Huffman table. No hash chains, so it runs in one pass per step.
// RFC 1950 (zlib wrapper) and RFC 1951 (deflate); PNG filters: PNG spec §9.

/** Bytes of filtered rows per deflate block: each gets its own table, so statistics follow the image down. */
const BLOCK_INPUT = 1 << 18;
/** Runs shorter than this stay literals: a length and a distance code cost more than a few short literal codes. */
const MIN_RUN = 4;
const MAX_RUN = 258;

/** Paeth-filters the rows (filter type 4 before each), `channels` bytes a pixel. */
export function paethRows(data: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const row = width * channels;
  const out = new Uint8Array(height * (row + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (row + 1);
    const line = y * row;
    out[o] = 4;
    if (y === 0) {
      // No row above: Paeth's guess is the left neighbour (a Sub filter).
      for (let i = 0; i < row; i++) out[o + 1 + i] = data[line + i]! - (i >= channels ? data[line + i - channels]! : 0);
      continue;
    }
    const above = line - row;
    // A channel at a time along the row: the left and upper-left neighbours are the previous step's pixel and
    // the pixel above it, kept in registers, so each byte costs two loads, not four.
    for (let k = 0; k < channels; k++) {
      let a = data[line + k]!;
      let c = data[above + k]!;
      out[o + 1 + k] = a - c; // left and upper left are 0: Paeth's guess is b
      for (let i = k + channels; i < row; i += channels) {
        const x = data[line + i]!;
        const b = data[above + i]!;
        // With p = a + b − c: |p − a| = |b − c|, |p − b| = |a − c|, |p − c| = |(a − c) + (b − c)|. No branches
        // (absolute values as (x ^ sign) − sign, choices by masks): a photo's residues flip sign at random, which
        // branches predict badly (twice as slow on a 1024² upscaled photo).
        const db = b - c;
        const da = a - c;
        const dc = da + db;
        const pa = (db ^ (db >> 31)) - (db >> 31);
        const pb = (da ^ (da >> 31)) - (da >> 31);
        const pc = (dc ^ (dc >> 31)) - (dc >> 31);
        const bBeatsA = (pb - pa) >> 31; // −1 when pb < pa: Paeth prefers a, then b, then c on ties
        const best = pa + ((pb - pa) & bBeatsA);
        const guess = a + ((b - a) & bBeatsA);
        const cBeats = (pc - best) >> 31;
        out[o + 1 + i] = x - (guess + ((c - guess) & cBeats));
        a = x;
        c = b;
      }
    }
  }
  return out;
}

// Length symbols 257…285: base lengths and extra bits (RFC 1951 §3.2.5), as a table from length 3…258.
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const LENGTH_SYMBOL = new Uint16Array(MAX_RUN + 1);
for (let s = 0; s < LENGTH_BASE.length; s++) {
  const end = s + 1 < LENGTH_BASE.length ? LENGTH_BASE[s + 1]! : MAX_RUN + 1;
  for (let len = LENGTH_BASE[s]!; len < end; len++) LENGTH_SYMBOL[len] = s;
}
/** Order in which the code-length code's lengths are sent (RFC 1951 §3.2.7). */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Code lengths of a Huffman code for `freq`, none longer than `limit` (zlib's overflow repair); 0 = unused. */
export function huffmanLengths(freq: ArrayLike<number>, limit: number): Uint8Array {
  const n = freq.length;
  const lengths = new Uint8Array(n);
  const used: number[] = [];
  for (let s = 0; s < n; s++) if (freq[s]! > 0) used.push(s);
  if (used.length === 0) return lengths;
  if (used.length === 1) {
    // A lone symbol still needs one bit, and the code must be complete (inflate refuses an incomplete
    // code-length code), so an unused neighbour takes the other one-bit code.
    lengths[used[0]!] = 1;
    lengths[used[0] === 0 ? 1 : 0] = 1;
    return lengths;
  }
  used.sort((x, y) => freq[x]! - freq[y]! || x - y);
  // Two-queue Huffman on the sorted leaves: tree nodes come out in non-decreasing weight.
  const m = used.length;
  const weight = new Float64Array(2 * m);
  const parent = new Int32Array(2 * m);
  for (let i = 0; i < m; i++) weight[i] = freq[used[i]!]!;
  let leaf = 0;
  let node = m;
  let next = m;
  const pick = (): number => (leaf < m && (node >= next || weight[leaf]! <= weight[node]!) ? leaf++ : node++);
  for (; next < 2 * m - 1; next++) {
    const x = pick();
    const y = pick();
    weight[next] = weight[x]! + weight[y]!;
    parent[x] = parent[y] = next;
  }
  const depth = new Uint8Array(2 * m);
  const count = new Int32Array(limit + 1);
  for (let i = 2 * m - 3; i >= 0; i--) depth[i] = depth[parent[i]!]! + 1;
  for (let i = 0; i < m; i++) count[Math.min(depth[i]!, limit)]++;
  // Clamping leaves to `limit` over-fills the code (Kraft sum above 1, counted here in units of 2^−limit). Each
  // step moves a leaf one level down and a clamped leaf beside it, taking exactly one unit off, as zlib repairs.
  let kraft = 0;
  for (let bits = 1; bits <= limit; bits++) kraft += count[bits]! * 2 ** (limit - bits);
  for (; kraft > 2 ** limit; kraft--) {
    let bits = limit - 1;
    while (count[bits] === 0) bits--;
    count[bits]--;
    count[bits + 1] += 2;
    count[limit]--;
  }
  // Rarest leaves get the longest codes.
  let i = 0;
  for (let bits = limit; bits >= 1; bits--) for (let k = count[bits]!; k > 0; k--) lengths[used[i++]!] = bits;
  return lengths;
}

/** Canonical codes for `lengths`, bit-reversed (deflate sends Huffman codes from their first bit). */
function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const count = new Uint16Array(16);
  for (const l of lengths) count[l]++;
  count[0] = 0;
  const next = new Uint16Array(16);
  for (let bits = 1, code = 0; bits < 16; bits++) {
    code = (code + count[bits - 1]!) << 1;
    next[bits] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) {
    const len = lengths[s]!;
    if (!len) continue;
    let c = next[len]!++;
    let r = 0;
    for (let k = 0; k < len; k++, c >>= 1) r = (r << 1) | (c & 1);
    codes[s] = r;
  }
  return codes;
}

/** Little-endian bit writer into a buffer sized for the worst case. */
class BitWriter {
  bytes: Uint8Array;
  at = 0;
  bits = 0;
  count = 0;
  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }
  /** Makes room for `more` bytes (and the hot loop's three-byte overrun). */
  reserve(more: number): void {
    if (this.at + more + 3 <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.at + more + 3));
    bigger.set(this.bytes.subarray(0, this.at));
    this.bytes = bigger;
  }
  /** Appends the low `n` bits of `value` (n ≤ 24). */
  put(value: number, n: number): void {
    this.bits |= value << this.count;
    this.count += n;
    this.flushBytes();
  }
  /** Stores the whole bytes held (the hot loop leaves up to 31 bits). */
  flushBytes(): void {
    while (this.count >= 8) {
      this.bytes[this.at++] = this.bits & 0xff;
      this.bits >>>= 8;
      this.count -= 8;
    }
  }
  /** Pads to a byte boundary. */
  align(): void {
    if (this.count > 0) this.put(0, 8 - this.count);
  }
}

/**
 * Tokens of one block: a byte value (0–255) or, for a run of the byte before it repeated, 256 + the run's
 * length. Returns the token count; `freq` gets each literal/length symbol's count. Every byte goes out as a
 * literal first; when a run ends long enough, its literals are taken back for one run token. So the loop's only
 * frequent test (is this byte the one before?) is arithmetic, not a branch: photo residues repeat at random.
 */
function tokenize(src: Uint8Array, start: number, end: number, tokens: Uint16Array, freq: Uint32Array): number {
  let t = 0;
  let prev = 256; // no byte: a run may not reach back into the block before (it could; a few bytes a block)
  let run = 0; // trailing literals that repeat the byte before them
  for (let i = start; i < end; i++) {
    const v = src[i]!;
    const same = ((v ^ prev) - 1) >> 31; // −1 when v repeats prev, else 0
    if (run >= MIN_RUN && same === 0) t = endRun(tokens, t, run, prev, freq);
    run = (run + 1) & same;
    tokens[t++] = v;
    freq[v]++;
    if (run === MAX_RUN) {
      t = endRun(tokens, t, run, v, freq);
      run = 0;
    }
    prev = v;
  }
  return run >= MIN_RUN ? endRun(tokens, t, run, prev, freq) : t;
}

/** Replaces the last `run` literals (each `value`) by one run token; returns the new token count. */
function endRun(tokens: Uint16Array, t: number, run: number, value: number, freq: Uint32Array): number {
  freq[value] -= run;
  freq[257 + LENGTH_SYMBOL[run]!]++;
  tokens[t - run] = 256 + run;
  return t - run + 1;
}

/** Writes one dynamic-Huffman block (RFC 1951 §3.2.7) of `count` tokens. */
function writeBlock(out: BitWriter, tokens: Uint16Array, count: number, freq: Uint32Array, last: boolean): void {
  freq[256] = 1; // end of block
  const litLengths = huffmanLengths(freq, 15);
  // One distance code (distance 1) of one bit; sent even when unused, as RFC 1951 wants at least one.
  const distLengths = Uint8Array.of(1);
  let hlit = 286;
  while (hlit > 257 && litLengths[hlit - 1] === 0) hlit--;
  const lengths = new Uint8Array(hlit + 1);
  lengths.set(litLengths.subarray(0, hlit));
  lengths[hlit] = distLengths[0]!;
  // The code lengths themselves, sent plainly (symbols 0–15, no repeat codes: a few bytes a block).
  const clFreq = new Uint32Array(19);
  for (const l of lengths) clFreq[l]++;
  const clLengths = huffmanLengths(clFreq, 7);
  const clCodes = canonicalCodes(clLengths);
  let hclen = 19;
  while (hclen > 4 && clLengths[CL_ORDER[hclen - 1]!] === 0) hclen--;

  out.put(last ? 1 : 0, 1);
  out.put(2, 2); // dynamic Huffman
  out.put(hlit - 257, 5);
  out.put(0, 5); // HDIST − 1: one distance code
  out.put(hclen - 4, 4);
  for (let k = 0; k < hclen; k++) out.put(clLengths[CL_ORDER[k]!]!, 3);
  for (const l of lengths) out.put(clCodes[l]!, clLengths[l]!);

  // Each token's bits (code, a run's extra bits and its one-bit distance code 0) and their count, packed as
  // bits | count << 24 so that the hot loop reads one table entry a token.
  const codes = canonicalCodes(litLengths);
  const packed = new Uint32Array(256 + MAX_RUN + 1);
  for (let v = 0; v < 256; v++) packed[v] = codes[v]! | (litLengths[v]! << 24);
  for (let len = MIN_RUN; len <= MAX_RUN; len++) {
    const s = LENGTH_SYMBOL[len]!;
    const n = litLengths[257 + s]!;
    if (n) packed[256 + len] = (codes[257 + s]! | ((len - LENGTH_BASE[s]!) << n)) | ((n + LENGTH_EXTRA[s]! + 1) << 24);
  }
  // The hot loop keeps up to 32 bits in locals and stores them four bytes at a time: a store per byte
  // (a token is 2–3 bits on average, so a byte loop's branch is a coin toss) took twice as long.
  const bytes = out.bytes;
  let at = out.at;
  let bits = out.bits;
  let held = out.count;
  for (let t = 0; t < count; t++) {
    const entry = packed[tokens[t]!]!;
    const code = entry & 0xffffff;
    const n = entry >>> 24;
    bits |= code << held;
    held += n;
    if (held >= 32) {
      bytes[at] = bits;
      bytes[at + 1] = bits >>> 8;
      bytes[at + 2] = bits >>> 16;
      bytes[at + 3] = bits >>> 24;
      at += 4;
      held -= 32;
      bits = held === 0 ? 0 : code >>> (n - held); // the code's bits that did not fit
    }
  }
  out.at = at;
  out.bits = bits;
  out.count = held;
  out.flushBytes();
  out.put(codes[256]!, litLengths[256]!);
}

/** RFC 1950's checksum of the uncompressed bytes. */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  const n = bytes.length;
  for (let i = 0; i < n; ) {
    // 3800 bytes is the most that can be summed before b may pass 2^31: V8 then keeps a and b small integers
    // (5552, zlib's bound for 2^32, made it use doubles: twice as slow). Four bytes a step: b gains 4a + 4x0 +
    // 3x1 + 2x2 + x3, as four single steps would give it.
    const end = Math.min(i + 3800, n);
    for (const end4 = end - 3; i < end4; i += 4) {
      const x0 = bytes[i]!;
      const x1 = bytes[i + 1]!;
      const x2 = bytes[i + 2]!;
      const x3 = bytes[i + 3]!;
      b = (b + 4 * (a + x0) + 3 * x1 + 2 * x2 + x3) | 0;
      a = (a + x0 + x1 + x2 + x3) | 0;
    }
    for (; i < end; i++) {
      a = (a + bytes[i]!) | 0;
      b = (b + a) | 0;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** zlib-format (RFC 1950) deflate of filtered PNG rows: literals and byte runs, one Huffman table a block. */
export function deflateRows(rows: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(rows.length / BLOCK_INPUT));
  // Upscaled photos deflate to a quarter to a third of their rows; the writer grows when an image does worse.
  const out = new BitWriter((rows.length >> 1) + 1024);
  out.put(0x78, 8); // deflate, 32 KB window
  out.put(0x01, 8); // fastest level; 0x7801 is a multiple of 31
  const tokens = new Uint16Array(Math.min(rows.length, BLOCK_INPUT));
  for (let b = 0; b < blocks; b++) {
    const start = b * BLOCK_INPUT;
    const end = Math.min(rows.length, start + BLOCK_INPUT);
    const freq = new Uint32Array(286);
    const count = tokenize(rows, start, end, tokens, freq);
    // A block's worst case: a 15-bit code a byte (a run's ≤ 21 bits stand for ≥ 5 bytes), plus its header.
    out.reserve(Math.ceil(((end - start) * 15) / 8) + 400);
    writeBlock(out, tokens, count, freq, b === blocks - 1);
  }
  out.reserve(8);
  out.align();
  const checksum = adler32(rows);
  const bytes = out.bytes;
  bytes[out.at++] = checksum >>> 24;
  bytes[out.at++] = (checksum >>> 16) & 0xff;
  bytes[out.at++] = (checksum >>> 8) & 0xff;
  bytes[out.at++] = checksum & 0xff;
  return bytes.slice(0, out.at);
}
