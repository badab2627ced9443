// Public surface of the image layer: pure JS (fast-png, jpeg-js) and, for JPEG encoding, MozJPEG's wasm that the
// caller hands over (jpeg.ts); safe for Node, Deno, Workers, browsers.
export type { RasterImage } from './raster.ts';
export { assertRaster, splitAlpha, joinAlpha, toRgb, cropImage } from './raster.ts';
export { ImageError, ImageFormatError, ImageDecodeError, ImageTooLargeError, ImageArgumentError, ImageEncodeError } from './errors.ts';
export type { ImageFormat, ImageHeader } from './header.ts';
export { readImageHeader } from './header.ts';
export type { DecodeOptions } from './decode.ts';
export { decodeImage, DEFAULT_MAX_PIXELS } from './decode.ts';
export { encodePng } from './png-encode.ts';
export { encodeJpeg, type JpegWasm } from './jpeg.ts';
export type { ResizeOptions } from './resize.ts';
export { resizeBicubic, resizeBicubicFloat, makeLowRes } from './resize.ts';
