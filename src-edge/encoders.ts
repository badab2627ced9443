// Which encoders answer: a native one where the runtime loads Node addons (Node; Deno allowed FFI), a portable one
// everywhere else (Workers).
// - JPEG: sharp (jpeg-sharp.node.ts) or MozJPEG's wasm. On 1024² upscaled photos at quality 90 (`bench/codecs.mjs`):
//   sharp 5–6 ms, 147–154 KB, 43.1–44.1 dB; MozJPEG wasm 92–95 ms, 129–135 KB, 42.8–43.9 dB. Both write baseline JPEG
//   with 4:2:0 chroma and MozJPEG's quantisation tables, so a quality means the same on both (the wasm one also
//   optimises its Huffman tables: fewer bytes, the same pixels).
// - PNG: @napi-rs/image (png-napi.node.ts) or srq's own deflate in plain JS (src-core/image/png-deflate.ts), both on
//   Paeth-filtered rows; figures in png-napi.node.ts.
import { encodeJpeg, encodePng, type JpegWasm, type RasterImage } from '../src-core/image/index.ts';
import { oneLine } from './errors.ts';

export interface JpegEncoder {
  /** e.g. "sharp 0.35.5 (libvips 8.18.7)", for /v1/models. */
  readonly name: string;
  encode(img: RasterImage, quality: number): Promise<Uint8Array>;
}

export interface PngEncoder {
  /** e.g. "@napi-rs/image 1.15.0, up to 4 row bands at once", for /v1/models. */
  readonly name: string;
  /** Lossless, 8 bits a sample, the raster's channels. */
  encode(img: RasterImage): Promise<Uint8Array>;
}

export function wasmJpegEncoder(wasm: JpegWasm): JpegEncoder {
  return { name: 'MozJPEG wasm (@jsquash/jpeg)', encode: (img, quality) => encodeJpeg(img, wasm, quality) };
}

export const jsPngEncoder: PngEncoder = { name: "srq's deflate (JS)", encode: async (img) => encodePng(img) };

export interface EncoderChoice<E> {
  encoder: E;
  reason: string;
}

/** The native encoder when the runtime offers one and it loads; else the portable one, with the reason. */
export async function chooseEncoder<E extends { name: string }>(portable: E, loadNative: (() => Promise<E>) | undefined, nativeName: string): Promise<EncoderChoice<E>> {
  if (!loadNative) return { encoder: portable, reason: 'no native encoder on this runtime' };
  try {
    const encoder = await loadNative();
    return { encoder, reason: `${encoder.name} loaded` };
  } catch (e) {
    return { encoder: portable, reason: `${nativeName} did not load (${oneLine(e)}): ${portable.name}` };
  }
}
