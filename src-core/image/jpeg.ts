// JPEG: decoding with jpeg-js (pure JS: baseline and progressive), encoding with MozJPEG compiled to wasm
// (@jsquash/jpeg, Squoosh's build): jpeg-js's encoder took 150–220 ms for a 1024² output in the edge bench, 20–35%
// of a small request. Each runtime hands over the compiled encoder its own way (Node and Deno read the file:
// jpeg-wasm.node.ts; Workers import it precompiled, as they may not compile wasm at run time), so nothing here
// fetches or reads files.
import encodeMozJpeg, * as mozjpeg from '@jsquash/jpeg/encode.js';
import jpeg from 'jpeg-js';
import { ImageDecodeError, ImageEncodeError } from './errors.ts';
import { assertRaster } from './raster.ts';
import type { RasterImage } from './raster.ts';

/**
 * Decodes a baseline or progressive JPEG to 8-bit RGB (greyscale JPEGs are expanded to RGB).
 * `maxPixels` is passed on so jpeg-js's own allocation guard agrees with ours.
 */
export function decodeJpeg(bytes: Uint8Array, maxPixels: number): RasterImage {
  try {
    const img = jpeg.decode(bytes, {
      useTArray: true, // Uint8Array output; Buffer does not exist in Workers/browsers
      formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6,
      // Coefficients (2 B) + planes (1 B) per component + 3 B output, with headroom for subsampling.
      maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 16) / 2 ** 20)),
    });
    return { width: img.width, height: img.height, channels: 3, data: img.data };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new ImageDecodeError(`JPEG is corrupt, truncated or unsupported (${text}); re-export it as baseline JPEG or PNG`);
  }
}

/** Gives the compiled MozJPEG encoder (mozjpeg_enc.wasm of @jsquash/jpeg); called once per process or isolate. */
export type JpegWasm = () => Promise<WebAssembly.Module>;

/**
 * Baseline (not progressive) with optimised Huffman tables and 4:2:0 chroma, what libjpeg's cjpeg, Pillow and sharp
 * write by default. Measured on two 1024² esrgan-slim-x4 outputs at quality 90 (bench/codecs.mjs, the first part of
 * `npm run bench:edge`): 70–72 ms, 129–135 KB, 42.8–43.9 dB; 4:4:4 baseline 103–105 ms, 167–169 KB, 44.4–44.5 dB;
 * Squoosh's defaults (progressive, trellis) 224–240 ms; jpeg-js (4:4:4, srq's encoder before) 113–128 ms, 191–198 KB.
 * Lossless output is what PNG is for.
 */
const OPTIONS = {
  baseline: true,
  progressive: false,
  optimize_coding: true,
  auto_subsample: false,
  chroma_subsample: 2,
  trellis_multipass: false,
} as const;

let ready: Promise<void> | undefined;

/** Encodes RGB (or grey, replicated; alpha dropped) as a baseline JPEG at `quality` 1..100. */
export async function encodeJpeg(img: RasterImage, wasm: JpegWasm, quality = 90): Promise<Uint8Array> {
  assertRaster(img);
  if (!(quality >= 1 && quality <= 100)) {
    throw new ImageEncodeError(`JPEG quality must be between 1 and 100, got ${quality}`);
  }
  ready ??= wasm().then((module) => {
    // locateFile: the glue would otherwise resolve its wasm next to import.meta.url (unset in some bundles).
    const init = mozjpeg.init as unknown as (module: WebAssembly.Module, opts: object) => Promise<void>;
    return init(module, { locateFile: (file: string) => file });
  });
  try {
    await ready;
  } catch (error) {
    ready = undefined;
    throw new ImageEncodeError(`the JPEG encoder's wasm could not be loaded (${error instanceof Error ? error.message : String(error)})`);
  }
  const n = img.width * img.height;
  const c = img.channels;
  const rgba = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    const s = i * c;
    rgba[i * 4] = img.data[s]!;
    rgba[i * 4 + 1] = img.data[c < 3 ? s : s + 1]!;
    rgba[i * 4 + 2] = img.data[c < 3 ? s : s + 2]!;
    rgba[i * 4 + 3] = 255;
  }
  const data = { data: rgba, width: img.width, height: img.height, colorSpace: 'srgb' } as ImageData;
  try {
    return new Uint8Array(await encodeMozJpeg(data, { ...OPTIONS, quality: Math.round(quality) }));
  } catch (error) {
    throw new ImageEncodeError(`JPEG encoding failed (${error instanceof Error ? error.message : String(error)})`);
  }
}
