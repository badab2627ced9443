// PNG responses on Node and Deno through @napi-rs/image (Rust's image and png crates, fdeflate's fast mode: Paeth
// rows coded in one native pass, off the event loop). The raster goes in as a binary PNM (a text header before the
// raw samples, which the crate reads as they are), so the PNG keeps the raster's channels; its RGBA-only
// constructor would add an alpha channel to every RGB response. An image of several 256² is encoded as up to four
// row bands at once on the runtime's native thread pool (libuv's has 4 threads) and the bands joined into one PNG
// (png-stitch.ts). A 1024² upscaled photo on this 2-core machine (medians of 50, interleaved, three runs): whole
// 8.1–8.2 ms, 2 bands 6.1–6.8, 4 bands 5.2–5.4; 512² 1.7–2.6 → 1.5–1.9.
// Before: node:zlib's run-length deflate of Paeth rows in parallel parts, 33–75 ms. Imported dynamically, so that a
// host where its binary does not load answers with srq's JS encoder instead.
import { createRequire } from 'node:module';
import { crc32 } from 'node:zlib';
import { assertRaster, ImageEncodeError, type RasterImage } from '../src-core/image/index.ts';
import type { PngEncoder } from './encoders.ts';
import { stitchPngBands } from './png-stitch.ts';

/** PNM's form for each channel count: P5 grey, P6 RGB, P7 (PAM) RGBA. */
function pnm(img: RasterImage): Uint8Array {
  const { width, height, channels } = img;
  const header =
    channels === 1 ? `P5\n${width} ${height}\n255\n`
    : channels === 3 ? `P6\n${width} ${height}\n255\n`
    : `P7\nWIDTH ${width}\nHEIGHT ${height}\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n`;
  const head = new TextEncoder().encode(header);
  const file = new Uint8Array(head.length + img.data.length);
  file.set(head);
  file.set(img.data, head.length);
  return file;
}

// The package declares its enums for TypeScript only (no values at run time): CompressionType.Fast, FilterType.Paeth.
const FAST = 1;
const PAETH = 4;

/** Bands an image is encoded in: one per 256² of pixels, at most the native pool's 4 threads. */
const MAX_BANDS = 4;
const BAND_PIXELS = 256 * 256;

function bandsOf(img: RasterImage, maxBands: number): RasterImage[] {
  const { width, height, channels } = img;
  const count = Math.min(maxBands, Math.floor((width * height) / BAND_PIXELS), height);
  const bands: RasterImage[] = [];
  for (let k = 0; k < count; k++) {
    const [top, bottom] = [Math.floor((k * height) / count), Math.floor(((k + 1) * height) / count)];
    bands.push({ width, height: bottom - top, channels, data: img.data.subarray(top * width * channels, bottom * width * channels) });
  }
  return bands;
}

/**
 * Whether this build's streams join (png-stitch.ts): two bands of a smooth test pattern, encoded and stitched. Where
 * they do not (another version of the crate), every image is encoded whole, and the encoder's name says why.
 */
export async function bandsJoin(encodeWhole: (img: RasterImage) => Promise<Uint8Array>): Promise<boolean> {
  const [width, height] = [128, 8];
  const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => {
    const [x, y, c] = [Math.floor(i / 3) % width, Math.floor(i / 3 / width), i % 3];
    return (x * (c + 1) + y * 7 + ((x * y) % 13)) & 255;
  });
  const band = (top: number): RasterImage => ({ width, height: height / 2, channels: 3, data: data.subarray(top * width * 3, (top + height / 2) * width * 3) });
  return stitchPngBands(await Promise.all([band(0), band(height / 2)].map(encodeWhole)), crc32) !== undefined;
}

/** `maxBands`: 1 encodes every image whole (a band's own PNG, as png-stitch.ts joins them). */
export async function loadNapiPng(maxBands = MAX_BANDS): Promise<PngEncoder> {
  const { Transformer } = await import('@napi-rs/image');
  const { version } = createRequire(import.meta.url)('@napi-rs/image/package.json') as { version: string };
  const encodeWhole = async (img: RasterImage) => new Uint8Array(await new Transformer(pnm(img)).png({ compressionType: FAST, filterType: PAETH }));
  const joins = maxBands > 1 && await bandsJoin(encodeWhole);
  const bands = joins ? maxBands : 1;
  return {
    name: joins ? `@napi-rs/image ${version}, up to ${bands} row bands at once`
      : maxBands > 1 ? `@napi-rs/image ${version}, whole images (its PNG streams do not join as bands)` : `@napi-rs/image ${version}`,
    async encode(img) {
      assertRaster(img);
      try {
        const parts = bandsOf(img, bands);
        if (parts.length < 2) return await encodeWhole(img);
        // A band's stream the joining does not take (a few hundred bytes stored, not coded) is encoded whole instead.
        return stitchPngBands(await Promise.all(parts.map(encodeWhole)), crc32) ?? await encodeWhole(img);
      } catch (error) {
        throw new ImageEncodeError(`PNG encoding failed (${error instanceof Error ? error.message : String(error)})`);
      }
    },
  };
}
