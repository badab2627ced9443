// PNG encoding: rows filtered, then deflated by srq's own encoder (png-deflate.ts: Paeth rows, literals and byte
// runs, one pass, plain JS on every runtime) or by a runtime's native zlib when it passes one with the filter it
// wants (the edge's Node and Deno entries: node:zlib's run-length strategy in parallel parts; deflate.node.ts).
// On 1024² upscaled photos (bench/codecs.mjs) srq's encoder took 37–46 ms for 770–824 KB where `CompressionStream`
// (zlib level 6, unfiltered rows: Workers' encoder before) took 96–107 ms for 1547–1799 KB; on a 1024² bicubic
// upscale fast-png's encoder (pako, unfiltered; srq's encodePng before) took 171 ms for 2.02 MB, srq's 45 ms for 1.38.
import { ImageEncodeError } from './errors.ts';
import { deflateRows, paethRows } from './png-deflate.ts';
import { assertRaster, type RasterImage } from './raster.ts';

/** PNG colour type by channel count: grey, grey + alpha, RGB, RGBA. */
const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Scanlines with one filter for every row: 0 (none), 2 (Up: each byte minus the one above it) or 4 (Paeth: minus
 * the best guess from left, above and upper left). An upscaler's output is smooth, so both leave small residues;
 * Paeth's are smaller (order-0 entropy of four 1024² upscaled photos: none 2.85–3.03 MB, Up 1.17–1.62, Paeth
 * 0.76–1.10) and cost ≈ 12 ms against Up's 4.
 */
function scanlines(img: RasterImage, filter: PngFilter): Uint8Array {
  if (filter === 'paeth') return paethRows(img.data, img.width, img.height, img.channels);
  const row = img.width * img.channels;
  const out = new Uint8Array(img.height * (row + 1));
  for (let y = 0; y < img.height; y++) {
    const line = img.data.subarray(y * row, (y + 1) * row);
    const to = out.subarray(y * (row + 1) + 1, (y + 1) * (row + 1));
    if (filter === 'none' || y === 0) to.set(line);
    else {
      const above = img.data.subarray((y - 1) * row, y * row);
      for (let i = 0; i < row; i++) to[i] = line[i]! - above[i]!; // a Uint8Array store wraps mod 256
    }
    out[y * (row + 1)] = filter === 'up' ? 2 : 0;
  }
  return out;
}

export type PngFilter = 'none' | 'up' | 'paeth';

/** A runtime's own zlib: the filter its deflate works best on, a zlib-format (RFC 1950) deflate of the rows, and a native CRC-32 (PNG's chunk checksum) where it has one. */
export interface Deflate {
  filter: PngFilter;
  deflate(bytes: Uint8Array): Promise<Uint8Array>;
  crc32?(bytes: Uint8Array): number;
}

/** Encodes 1–4 channels losslessly as an 8-bit PNG (srq's deflate on Paeth rows). */
export function encodePng(img: RasterImage): Uint8Array {
  assertRaster(img);
  return assemble(img, deflateRows(scanlines(img, 'paeth')));
}

/** encodePng, with the runtime's deflate where it passes one (the edge on Node and Deno: node:zlib in parallel). */
export async function encodePngNative(img: RasterImage, deflate?: Deflate): Promise<Uint8Array> {
  if (!deflate) return encodePng(img);
  assertRaster(img);
  let idat: Uint8Array;
  try {
    idat = await deflate.deflate(scanlines(img, deflate.filter));
  } catch (error) {
    throw new ImageEncodeError(`PNG encoding failed (${error instanceof Error ? error.message : String(error)})`);
  }
  return assemble(img, idat, deflate.crc32);
}

/** Signature, IHDR, one IDAT and IEND, each chunk with its CRC-32 (the runtime's when it has one). */
function assemble(img: RasterImage, idat: Uint8Array, nativeCrc32?: (bytes: Uint8Array) => number): Uint8Array {
  const chunks: [string, Uint8Array][] = [['IHDR', ihdr(img)], ['IDAT', idat], ['IEND', new Uint8Array(0)]];
  const total = 8 + chunks.reduce((n, [, d]) => n + 12 + d.length, 0);
  const png = new Uint8Array(total);
  const view = new DataView(png.buffer);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  for (const [type, body] of chunks) {
    view.setUint32(at, body.length);
    for (let i = 0; i < 4; i++) png[at + 4 + i] = type.charCodeAt(i);
    png.set(body, at + 8);
    const typeAndBody = png.subarray(at + 4, at + 8 + body.length);
    view.setUint32(at + 8 + body.length, nativeCrc32 ? nativeCrc32(typeAndBody) : crc32(typeAndBody));
    at += 12 + body.length;
  }
  return png;
}

function ihdr(img: RasterImage): Uint8Array {
  const body = new Uint8Array(13);
  const view = new DataView(body.buffer);
  view.setUint32(0, img.width);
  view.setUint32(4, img.height);
  body[8] = 8; // bit depth
  body[9] = COLOR_TYPE[img.channels]!;
  // compression, filter method and interlace: 0 (deflate, adaptive filtering, none)
  return body;
}
