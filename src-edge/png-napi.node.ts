// PNG responses on Node and Deno through @napi-rs/image (Rust's image and png crates, fdeflate's fast mode: Paeth
// rows coded in one native pass, off the event loop). The raster goes in as a binary PNM (a text header before the
// raw samples, which the crate reads as they are), so the PNG keeps the raster's channels; its RGBA-only
// constructor would add an alpha channel to every RGB response. On 1024² upscaled photos (`bench/codecs.mjs`, this
// 2-core machine): 10–14 ms for 823–887 KB, where node:zlib's run-length deflate of Paeth rows in parallel parts
// (the encoder before) took 33–75 ms for 785–835 KB. Imported dynamically, so that a host where its binary does not load
// answers with srq's JS encoder instead.
import { createRequire } from 'node:module';
import { assertRaster, ImageEncodeError, type RasterImage } from '../src-core/image/index.ts';
import type { PngEncoder } from './encoders.ts';

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

export async function loadNapiPng(): Promise<PngEncoder> {
  const { Transformer } = await import('@napi-rs/image');
  const { version } = createRequire(import.meta.url)('@napi-rs/image/package.json') as { version: string };
  return {
    name: `@napi-rs/image ${version}`,
    async encode(img) {
      assertRaster(img);
      try {
        return new Uint8Array(await new Transformer(pnm(img)).png({ compressionType: FAST, filterType: PAETH }));
      } catch (error) {
        throw new ImageEncodeError(`PNG encoding failed (${error instanceof Error ? error.message : String(error)})`);
      }
    },
  };
}
