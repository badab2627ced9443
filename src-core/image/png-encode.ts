// PNG encoding by srq's own deflate (png-deflate.ts: Paeth rows, literals and byte runs, one pass, plain JS on every
// runtime). The edge on Node and Deno encodes with a native library instead (src-edge/png-napi.node.ts).
// On 1024² upscaled photos (bench/codecs.mjs) srq's encoder took 37–46 ms for 770–824 KB where `CompressionStream`
// (zlib level 6, unfiltered rows: Workers' encoder before) took 96–107 ms for 1547–1799 KB; on a 1024² bicubic
// upscale fast-png's encoder (pako, unfiltered; srq's encodePng before) took 171 ms for 2.02 MB, srq's 45 ms for 1.38.
import { PNG_SIGNATURE } from './header.ts';
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

/** Encodes 1–4 channels losslessly as an 8-bit PNG (srq's deflate on Paeth rows). */
export function encodePng(img: RasterImage): Uint8Array {
  assertRaster(img);
  return pngFile(img, deflateRows(paethRows(img.data, img.width, img.height, img.channels)));
}

type Geometry = Pick<RasterImage, 'width' | 'height' | 'channels'>;

/**
 * An 8-bit PNG around a finished zlib stream of its filtered rows: signature, IHDR, one IDAT and IEND, each chunk
 * with its CRC-32 (`crc`: srq's JS one, or a runtime's native one).
 */
export function pngFile(img: Geometry, idat: Uint8Array, crc: (bytes: Uint8Array) => number = crc32): Uint8Array {
  const chunks: [string, Uint8Array][] = [['IHDR', ihdr(img)], ['IDAT', idat], ['IEND', new Uint8Array(0)]];
  const total = 8 + chunks.reduce((n, [, d]) => n + 12 + d.length, 0);
  const png = new Uint8Array(total);
  const view = new DataView(png.buffer);
  png.set(PNG_SIGNATURE);
  let at = 8;
  for (const [type, body] of chunks) {
    view.setUint32(at, body.length);
    for (let i = 0; i < 4; i++) png[at + 4 + i] = type.charCodeAt(i);
    png.set(body, at + 8);
    const typeAndBody = png.subarray(at + 4, at + 8 + body.length);
    view.setUint32(at + 8 + body.length, crc(typeAndBody));
    at += 12 + body.length;
  }
  return png;
}

function ihdr(img: Geometry): Uint8Array {
  const body = new Uint8Array(13);
  const view = new DataView(body.buffer);
  view.setUint32(0, img.width);
  view.setUint32(4, img.height);
  body[8] = 8; // bit depth
  body[9] = COLOR_TYPE[img.channels]!;
  // compression, filter method and interlace: 0 (deflate, adaptive filtering, none)
  return body;
}
