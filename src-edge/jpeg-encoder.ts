// Which JPEG encoder answers `format=jpeg`: sharp (libvips, native, SIMD) where the runtime loads Node addons (Node;
// Deno allowed FFI), MozJPEG's wasm everywhere else (Workers). On a 1024² upscaled photo at quality 90 (one run,
// medians of 12): sharp 10 ms, 133 KB, 44.97 dB; MozJPEG wasm 73 ms, 118 KB, 44.65 dB. Both write baseline JPEG with
// optimised Huffman tables, 4:2:0 chroma and MozJPEG's quantisation tables, so a quality means the same on both.
import { encodeJpeg, type JpegWasm, type RasterImage } from '../src-core/image/index.ts';
import { oneLine } from './errors.ts';

export interface JpegEncoder {
  /** e.g. "sharp 0.35.5 (libvips 8.18.7)", for /v1/models. */
  readonly name: string;
  encode(img: RasterImage, quality: number): Promise<Uint8Array>;
}

export function wasmJpegEncoder(wasm: JpegWasm): JpegEncoder {
  return { name: 'MozJPEG wasm (@jsquash/jpeg)', encode: (img, quality) => encodeJpeg(img, wasm, quality) };
}

/** The native encoder when the runtime offers one and it loads; else the wasm one, with the reason. */
export async function chooseJpegEncoder(wasm: JpegWasm, loadNative: (() => Promise<JpegEncoder>) | undefined): Promise<{ encoder: JpegEncoder; reason: string }> {
  if (!loadNative) return { encoder: wasmJpegEncoder(wasm), reason: 'no native encoder on this runtime' };
  try {
    const encoder = await loadNative();
    return { encoder, reason: `${encoder.name} loaded` };
  } catch (e) {
    return { encoder: wasmJpegEncoder(wasm), reason: `sharp did not load (${oneLine(e)}): wasm` };
  }
}
