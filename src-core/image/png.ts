// PNG decoding (fast-png) to srq's 8-bit RGB or RGBA rasters; encoding is png-encode.ts.
import { decode as decodePngData } from 'fast-png';
import type { DecodedPng } from 'fast-png';
import { ImageDecodeError } from './errors.ts';
import type { RasterImage } from './raster.ts';

const COLOR_TYPE_INDEXED = 3;

/**
 * Decodes any PNG colour type / bit depth to 8-bit RGB or RGBA. Grey becomes RGB, 16-bit samples
 * are rounded (round(v / 257)), palette and tRNS colour keys become RGBA; an alpha channel that is
 * entirely opaque is dropped so opaque images always come out as RGB.
 */
export function decodePng(bytes: Uint8Array): RasterImage {
  let png: DecodedPng;
  try {
    // CRCs are checked so a flipped byte is reported instead of producing garbage pixels.
    png = decodePngData(bytes, { checkCrc: true });
  } catch (error) {
    throw new ImageDecodeError(`PNG is corrupt or truncated (${errorText(error)}); re-export the file`);
  }
  const raw = unpackSamples(png);
  // Decide by IHDR colour type (byte 25), not by the presence of a palette: truecolour PNGs may carry
  // a PLTE chunk as a mere suggestion, which fast-png reports as `palette` too.
  const indexed = bytes[25] === COLOR_TYPE_INDEXED;
  if (indexed && !png.palette) throw new ImageDecodeError('PNG is corrupt: palette image without a PLTE chunk');
  const image = indexed ? expandPalette(raw, png.palette!, png.width, png.height) : toRgbOrRgba(raw, png);
  return dropOpaqueAlpha(image);
}

/** One raw sample per array element (sub-byte depths unpacked, not yet scaled to 8 bits). */
function unpackSamples(png: DecodedPng): Uint8Array | Uint16Array {
  const { width, height, depth, channels, data } = png;
  const perRow = width * channels;
  if (depth >= 8) {
    if (data.length !== perRow * height) {
      throw new ImageDecodeError(`PNG is corrupt: pixel data has ${data.length} samples, expected ${perRow * height}`);
    }
    return depth === 16 ? (data as Uint16Array) : (data as Uint8Array);
  }
  // Depths 1, 2, 4 exist only for grey and palette images (one sample per pixel); rows start on a byte.
  const rowBytes = Math.ceil((perRow * depth) / 8);
  if (data.length !== rowBytes * height) {
    throw new ImageDecodeError(`PNG is corrupt: pixel data has ${data.length} bytes, expected ${rowBytes * height}`);
  }
  const out = new Uint8Array(perRow * height);
  const mask = (1 << depth) - 1;
  const perByte = 8 / depth;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < perRow; x++) {
      const byte = data[y * rowBytes + Math.floor(x / perByte)];
      const shift = 8 - depth * ((x % perByte) + 1);
      out[y * perRow + x] = (byte >> shift) & mask;
    }
  }
  return out;
}

function expandPalette(indices: Uint8Array | Uint16Array, palette: number[][], width: number, height: number): RasterImage {
  const hasAlpha = palette.some((entry) => entry.length === 4);
  const c = hasAlpha ? 4 : 3;
  const n = width * height;
  const out = new Uint8Array(n * c);
  for (let i = 0; i < n; i++) {
    const entry = palette[indices[i]];
    if (entry === undefined) {
      throw new ImageDecodeError(`PNG is corrupt: pixel uses palette index ${indices[i]} but the palette has ${palette.length} entries`);
    }
    out[i * c] = entry[0];
    out[i * c + 1] = entry[1];
    out[i * c + 2] = entry[2];
    if (hasAlpha) out[i * c + 3] = entry.length === 4 ? entry[3] : 255;
  }
  return { width, height, channels: c, data: out };
}

function toRgbOrRgba(raw: Uint8Array | Uint16Array, png: DecodedPng): RasterImage {
  const { width, height, depth, channels } = png;
  const n = width * height;
  // tRNS on grey/RGB images names one colour (in raw sample values) that is fully transparent.
  const key = png.transparency && png.transparency.length > 0 && (channels === 1 || channels === 3) ? png.transparency : undefined;
  const hasAlpha = channels === 2 || channels === 4 || key !== undefined;
  const c = hasAlpha ? 4 : 3;
  const to8 = sampleScaler(depth);
  const out = new Uint8Array(n * c);
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    const o = i * c;
    if (channels <= 2) {
      out[o] = out[o + 1] = out[o + 2] = to8(raw[s]);
      if (channels === 2) out[o + 3] = to8(raw[s + 1]);
      else if (key) out[o + 3] = raw[s] === key[0] ? 0 : 255;
    } else {
      out[o] = to8(raw[s]);
      out[o + 1] = to8(raw[s + 1]);
      out[o + 2] = to8(raw[s + 2]);
      if (channels === 4) out[o + 3] = to8(raw[s + 3]);
      else if (key) out[o + 3] = raw[s] === key[0] && raw[s + 1] === key[1] && raw[s + 2] === key[2] ? 0 : 255;
    }
  }
  return { width, height, channels: c, data: out };
}

function sampleScaler(depth: number): (v: number) => number {
  // floor((v + 128) / 257) equals round(v / 257) for every 16-bit v (v / 257 is never exactly .5).
  if (depth === 16) return (v) => ((v + 128) / 257) | 0;
  if (depth === 8) return (v) => v;
  const factor = 255 / ((1 << depth) - 1); // 255, 85 or 17: exact, so no rounding needed
  return (v) => v * factor;
}

function dropOpaqueAlpha(img: RasterImage): RasterImage {
  if (img.channels !== 4) return img;
  const { data } = img;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return img;
  const n = img.width * img.height;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = data[i * 4];
    rgb[i * 3 + 1] = data[i * 4 + 1];
    rgb[i * 3 + 2] = data[i * 4 + 2];
  }
  return { width: img.width, height: img.height, channels: 3, data: rgb };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
