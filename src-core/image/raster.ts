import { ImageArgumentError } from './errors.ts';

/** 8-bit image, interleaved channels, row-major, no padding between rows. */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** Throws ImageArgumentError unless `img` is a well-formed RasterImage. */
export function assertRaster(img: RasterImage, what = 'image'): void {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageArgumentError(`${what} has size ${width}x${height}; width and height must be positive integers`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new ImageArgumentError(`${what} has ${channels} channels; only 1 (grey), 3 (RGB) or 4 (RGBA) are supported`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * channels) {
    throw new ImageArgumentError(
      `${what} data has ${data?.length} bytes but ${width}x${height}x${channels} needs ${width * height * channels}; ` +
        'pass an interleaved Uint8Array without row padding',
    );
  }
}

/** Splits RGBA into RGB + a 1-channel alpha plane; RGB passes through (same object), grey is expanded. */
export function splitAlpha(img: RasterImage): { rgb: RasterImage; alpha?: RasterImage } {
  assertRaster(img);
  if (img.channels !== 4) return { rgb: toRgb(img) };
  const n = img.width * img.height;
  const src = img.data;
  const rgb = new Uint8Array(n * 3);
  const alpha = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = src[i * 4];
    rgb[i * 3 + 1] = src[i * 4 + 1];
    rgb[i * 3 + 2] = src[i * 4 + 2];
    alpha[i] = src[i * 4 + 3];
  }
  return {
    rgb: { width: img.width, height: img.height, channels: 3, data: rgb },
    alpha: { width: img.width, height: img.height, channels: 1, data: alpha },
  };
}

/** Interleaves a 3-channel image and a 1-channel alpha plane of the same size into RGBA. */
export function joinAlpha(rgb: RasterImage, alpha: RasterImage): RasterImage {
  assertRaster(rgb, 'rgb image');
  assertRaster(alpha, 'alpha plane');
  if (rgb.channels !== 3 || alpha.channels !== 1) {
    throw new ImageArgumentError(
      `joinAlpha needs a 3-channel image and a 1-channel alpha plane, got ${rgb.channels} and ${alpha.channels} channels`,
    );
  }
  if (rgb.width !== alpha.width || rgb.height !== alpha.height) {
    throw new ImageArgumentError(
      `joinAlpha: image is ${rgb.width}x${rgb.height} but alpha is ${alpha.width}x${alpha.height}; resize the alpha plane to match`,
    );
  }
  const n = rgb.width * rgb.height;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    out[i * 4] = rgb.data[i * 3];
    out[i * 4 + 1] = rgb.data[i * 3 + 1];
    out[i * 4 + 2] = rgb.data[i * 3 + 2];
    out[i * 4 + 3] = alpha.data[i];
  }
  return { width: rgb.width, height: rgb.height, channels: 4, data: out };
}

/**
 * Returns a 3-channel image: grey is replicated, RGB passes through (same object), RGBA loses its
 * alpha (use splitAlpha to keep it).
 */
export function toRgb(img: RasterImage): RasterImage {
  assertRaster(img);
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const src = img.data;
  const out = new Uint8Array(n * 3);
  if (img.channels === 1) {
    for (let i = 0; i < n; i++) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = src[i];
  } else {
    for (let i = 0; i < n; i++) {
      out[i * 3] = src[i * 4];
      out[i * 3 + 1] = src[i * 4 + 1];
      out[i * 3 + 2] = src[i * 4 + 2];
    }
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Copies the w×h rectangle whose top-left corner is (x, y); it must lie inside the image. */
export function cropImage(img: RasterImage, x: number, y: number, w: number, h: number): RasterImage {
  assertRaster(img);
  const ints = [x, y, w, h].every(Number.isInteger);
  if (!ints || x < 0 || y < 0 || w < 1 || h < 1 || x + w > img.width || y + h > img.height) {
    throw new ImageArgumentError(
      `crop ${w}x${h} at (${x},${y}) does not fit inside the ${img.width}x${img.height} image; ` +
        'use non-negative integers with x+w <= width and y+h <= height',
    );
  }
  const c = img.channels;
  const out = new Uint8Array(w * h * c);
  const rowBytes = w * c;
  for (let row = 0; row < h; row++) {
    const start = ((y + row) * img.width + x) * c;
    out.set(img.data.subarray(start, start + rowBytes), row * rowBytes);
  }
  return { width: w, height: h, channels: c, data: out };
}
