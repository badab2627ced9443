import { ImageDecodeError, ImageFormatError } from './errors.ts';

export type ImageFormat = 'png' | 'jpeg';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

/** The 8 bytes every PNG file starts with. */
export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Reads format and size from the first bytes (PNG IHDR, JPEG SOFn) without decoding pixels, so
 * callers can reject oversized uploads before any large allocation.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return readPngHeader(bytes);
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return readJpegHeader(bytes);
  throw new ImageFormatError(`${describeUnknown(bytes)}; only PNG and JPEG are supported, convert the image first`);
}

function readPngHeader(bytes: Uint8Array): ImageHeader {
  // Signature (8) + chunk length (4) + "IHDR" (4) + width (4) + height (4).
  if (bytes.length < 33) throw new ImageDecodeError(`PNG is truncated (${bytes.length} bytes, header needs 33)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
  if (type !== 'IHDR' || view.getUint32(8) !== 13) {
    throw new ImageDecodeError('PNG is corrupt: the first chunk is not a 13-byte IHDR');
  }
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new ImageDecodeError(`PNG is corrupt: IHDR gives an invalid size ${width}x${height}`);
  }
  return { format: 'png', width, height };
}

// SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range but are not frames.
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function readJpegHeader(bytes: Uint8Array): ImageHeader {
  let p = 2; // after SOI
  while (p < bytes.length) {
    if (bytes[p] !== 0xff) throw new ImageDecodeError(`JPEG is corrupt: expected a marker at byte ${p}`);
    while (bytes[p] === 0xff) p++; // fill bytes may precede a marker
    if (p >= bytes.length) break;
    const marker = bytes[p++];
    // Stand-alone markers carry no length field.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker === 0xd9 || marker === 0xda) {
      throw new ImageDecodeError('JPEG is corrupt: image data starts before any frame header (SOF)');
    }
    if (p + 2 > bytes.length) break;
    const length = (bytes[p] << 8) | bytes[p + 1];
    if (length < 2) throw new ImageDecodeError(`JPEG is corrupt: segment at byte ${p} has length ${length}`);
    if (isStartOfFrame(marker)) {
      if (p + 7 > bytes.length) break;
      const height = (bytes[p + 3] << 8) | bytes[p + 4];
      const width = (bytes[p + 5] << 8) | bytes[p + 6];
      if (width === 0) throw new ImageDecodeError('JPEG is corrupt: frame header gives width 0');
      if (height === 0) {
        throw new ImageDecodeError('JPEG defines its height in a DNL marker, which is not supported; re-save the image');
      }
      return { format: 'jpeg', width, height };
    }
    p += length;
  }
  throw new ImageDecodeError(`JPEG is truncated: no frame header (SOF) in its ${bytes.length} bytes`);
}

function describeUnknown(bytes: Uint8Array): string {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length === 0) return 'image is empty (0 bytes)';
  if (ascii(0, 4) === 'GIF8') return 'image is a GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image is a WebP';
  if (ascii(0, 2) === 'BM') return 'image is a BMP';
  if (ascii(4, 8) === 'ftyp') return 'image is HEIF/AVIF';
  const hex = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `image format not recognised (first bytes: ${hex})`;
}
