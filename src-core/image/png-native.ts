// PNG encoding on the runtime's own zlib: `CompressionStream('deflate')` (the zlib format PNG's IDAT holds) exists
// on Node 18+, Deno, Workers and browsers, and deflates in native code. A runtime with a faster deflate passes it
// (the edge's Node and Deno entries: node:zlib at level 1, 4-9× faster on a 1024² output, 1.3× the bytes). Where
// the runtime has neither, the pure-JS encoder (png.ts) does the same job.
import { ImageEncodeError } from './errors.ts';
import { encodePng } from './png.ts';
import { assertRaster, type RasterImage } from './raster.ts';

/** PNG colour type by channel count: grey, grey + alpha, RGB, RGBA. */
const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Scanlines with filter type 0 (none). Measured on a 1024² upscaled photo: unfiltered deflates in 92 ms to 2.26 MB
 * (fast-png: 141 ms, 2.15 MB); Sub-filtered, zlib finds so many more matches that it takes 279 ms for 0.95 MB. The
 * edge's budget is time (encode ≤ 10% of a request, CPU-time limits on Workers), so no filter.
 */
function scanlines(img: RasterImage): Uint8Array {
  const row = img.width * img.channels;
  const out = new Uint8Array(img.height * (row + 1));
  for (let y = 0; y < img.height; y++) out.set(img.data.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  return out;
}

/** zlib-format deflate of the scanlines (RFC 1950), as CompressionStream('deflate') makes it. */
export type Deflate = (bytes: Uint8Array) => Promise<Uint8Array>;

async function deflateStream(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Encodes 1–4 channels losslessly as an 8-bit PNG, deflated natively where the runtime can. */
export async function encodePngNative(img: RasterImage, deflate?: Deflate): Promise<Uint8Array> {
  assertRaster(img);
  if (!deflate && typeof CompressionStream === 'undefined') return encodePng(img);
  let idat: Uint8Array;
  try {
    idat = await (deflate ?? deflateStream)(scanlines(img));
  } catch (error) {
    throw new ImageEncodeError(`PNG encoding failed (${error instanceof Error ? error.message : String(error)})`);
  }
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
    view.setUint32(at + 8 + body.length, crc32(png, at + 4, at + 8 + body.length));
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
