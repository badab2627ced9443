import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { encode as fastPngEncode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import {
  cropImage,
  decodeImage,
  encodeJpeg,
  encodePng,
  ImageArgumentError,
  ImageDecodeError,
  ImageError,
  ImageFormatError,
  ImageTooLargeError,
  joinAlpha,
  readImageHeader,
  resizeBicubic,
  splitAlpha,
  toRgb,
} from '../src-core/image/index.ts';
import type { RasterImage } from '../src-core/image/index.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import { psnr } from '../src-core/metrics/index.ts';

const images = new URL('../images/', import.meta.url);
const fixtures = new URL('./fixtures/metrics/', import.meta.url);
const read = (name: string, dir = images) => new Uint8Array(readFileSync(new URL(name, dir)));
const reference = JSON.parse(readFileSync(new URL('reference.json', fixtures), 'utf8'));

// ---------------------------------------------------------------------------------------------
// A minimal PNG writer, independent of fast-png, so every colour type / bit depth can be built
// byte by byte (filter type 0 on every row).

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(Array.from(type, (ch) => ch.charCodeAt(0)), 4);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function ihdr(width: number, height: number, depth: number, colorType: number): Uint8Array {
  const body = new Uint8Array(13);
  const view = new DataView(body.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  body[8] = depth;
  body[9] = colorType;
  return chunk('IHDR', body);
}

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** rows: packed scanline bytes (without the filter byte). */
function makePng(width: number, height: number, depth: number, colorType: number, rows: number[][], extra: Uint8Array[] = []): Uint8Array {
  const raw = concat(rows.map((r) => Uint8Array.from([0, ...r])));
  return concat([SIGNATURE, ihdr(width, height, depth, colorType), ...extra, chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

const u16 = (v: number) => [v >> 8, v & 0xff];
const pixel = (img: RasterImage, x: number, y: number) =>
  Array.from(img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x + 1) * img.channels));

// ---------------------------------------------------------------------------------------------

describe('readImageHeader', () => {
  it('reads PNG and JPEG sizes from the header', () => {
    expect(readImageHeader(read('astronaut.png'))).toEqual({ format: 'png', width: 512, height: 512 });
    expect(readImageHeader(read('chelsea.png'))).toEqual({ format: 'png', width: 451, height: 300 });
    expect(readImageHeader(read('rocket.jpg'))).toEqual({ format: 'jpeg', width: 640, height: 427 });
  });

  it('needs only the first bytes of a PNG', () => {
    expect(readImageHeader(read('coffee.png').subarray(0, 33))).toEqual({ format: 'png', width: 600, height: 400 });
  });

  it('rejects other formats with ImageFormatError naming what it saw', () => {
    const gif = new TextEncoder().encode('GIF89a\x01\x00\x01\x00');
    expect(() => readImageHeader(gif)).toThrow(ImageFormatError);
    expect(() => readImageHeader(gif)).toThrow(/GIF.*PNG and JPEG/);
    expect(() => readImageHeader(new Uint8Array(0))).toThrow(/empty/);
    expect(() => readImageHeader(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))).toThrow(/01 02 03 04/);
  });
});

describe('decodeImage: the project test images', () => {
  const expected: Record<string, [number, number]> = {
    'astronaut.png': [512, 512],
    'chelsea.png': [451, 300],
    'coffee.png': [600, 400],
    'brick.png': [512, 512],
    'grass.png': [512, 512],
    'gravel.png': [512, 512],
    'rocket.jpg': [640, 427],
  };

  for (const [name, [w, h]] of Object.entries(expected)) {
    it(`decodes ${name} to ${w}x${h} RGB`, () => {
      const img = decodeImage(read(name));
      expect([img.width, img.height, img.channels]).toEqual([w, h, 3]);
      expect(img.data.length).toBe(w * h * 3);
      if (name.endsWith('.png')) {
        // Lossless: the RGB bytes must equal PIL's decode exactly.
        expect(createHash('sha256').update(img.data).digest('hex')).toBe(reference.png_rgb_sha256[name]);
      } else {
        let lo = 255;
        let hi = 0;
        for (const v of img.data) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
        expect(hi - lo).toBeGreaterThan(150); // a real photo, not a blank or garbage buffer
      }
    });
  }

  it('expands the greyscale textures to R = G = B', () => {
    for (const name of ['brick.png', 'grass.png', 'gravel.png']) {
      const { data } = decodeImage(read(name));
      for (let i = 0; i < data.length; i += 3) {
        if (data[i] !== data[i + 1] || data[i] !== data[i + 2]) throw new Error(`${name}: pixel ${i / 3} is not grey`);
      }
    }
  });

  it('agrees pixel-for-pixel with a crop that PIL re-encoded (independent PNG encoder)', () => {
    // test/fixtures/metrics/astronaut-hr.png is images/astronaut.png[40:160, 176:320] written by PIL.
    const full = decodeImage(read('astronaut.png'));
    const pilCrop = decodeImage(read('astronaut-hr.png', fixtures));
    expect(cropImage(full, 176, 40, 144, 120)).toEqual(pilCrop);
  });

  it('decodes rocket.jpg close to libjpeg (PIL) — jpeg-js upsamples chroma differently', () => {
    const ref = reference.rocket_pil_decode;
    const ours = cropImage(decodeImage(read('rocket.jpg')), ref.x, ref.y, ref.w, ref.h);
    const pil = decodeImage(read(ref.file, fixtures));
    expect(psnr(ours, pil)).toBeGreaterThan(38);
  });
});

describe('decodeImage: PNG colour types and bit depths', () => {
  it('grey 8-bit -> RGB', () => {
    const img = decodeImage(makePng(3, 1, 8, 0, [[0, 128, 255]]));
    expect(img.channels).toBe(3);
    expect(Array.from(img.data)).toEqual([0, 0, 0, 128, 128, 128, 255, 255, 255]);
  });

  it('grey 1/2/4-bit scale to the full 0..255 range', () => {
    // 1-bit: 1,0,1 packed MSB first; 2-bit: 0,1,2,3; 4-bit: 0,15 then 7.
    expect(decodeImage(makePng(3, 1, 1, 0, [[0b10100000]])).data.filter((_, i) => i % 3 === 0)).toEqual(Uint8Array.of(255, 0, 255));
    expect(decodeImage(makePng(4, 1, 2, 0, [[0b00011011]])).data.filter((_, i) => i % 3 === 0)).toEqual(Uint8Array.of(0, 85, 170, 255));
    expect(decodeImage(makePng(3, 1, 4, 0, [[0x0f, 0x70]])).data.filter((_, i) => i % 3 === 0)).toEqual(Uint8Array.of(0, 255, 119));
  });

  it('16-bit samples round to 8 bits as round(v / 257)', () => {
    const values = [0, 128, 129, 257, 32896, 65407, 65535];
    const img = decodeImage(makePng(values.length, 1, 16, 0, [values.flatMap(u16)]));
    expect(Array.from(img.data.filter((_, i) => i % 3 === 0))).toEqual(values.map((v) => Math.round(v / 257)));
  });

  it('16-bit RGBA keeps alpha, rounded the same way', () => {
    const img = decodeImage(makePng(1, 1, 16, 6, [[...u16(65535), ...u16(0), ...u16(30000), ...u16(1000)]]));
    expect(img.channels).toBe(4);
    expect(Array.from(img.data)).toEqual([255, 0, Math.round(30000 / 257), Math.round(1000 / 257)]);
  });

  it('grey + alpha -> RGBA', () => {
    const img = decodeImage(makePng(2, 1, 8, 4, [[10, 20, 200, 255]]));
    expect(img.channels).toBe(4);
    expect(Array.from(img.data)).toEqual([10, 10, 10, 20, 200, 200, 200, 255]);
  });

  it('palette without tRNS -> RGB', () => {
    const plte = chunk('PLTE', Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 0, 255));
    const img = decodeImage(makePng(3, 2, 8, 3, [[0, 1, 2], [2, 1, 0]], [plte]));
    expect(img.channels).toBe(3);
    expect(pixel(img, 0, 0)).toEqual([255, 0, 0]);
    expect(pixel(img, 2, 0)).toEqual([0, 0, 255]);
    expect(pixel(img, 0, 1)).toEqual([0, 0, 255]);
  });

  it('palette with tRNS -> RGBA (entries beyond tRNS are opaque)', () => {
    const plte = chunk('PLTE', Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 0, 255));
    const trns = chunk('tRNS', Uint8Array.of(0, 128)); // only the first two entries get alpha
    const img = decodeImage(makePng(3, 1, 8, 3, [[0, 1, 2]], [plte, trns]));
    expect(img.channels).toBe(4);
    expect(Array.from(img.data)).toEqual([255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255]);
  });

  it('an RGB image with a suggested palette (PLTE) stays truecolour', () => {
    const plte = chunk('PLTE', Uint8Array.of(9, 9, 9));
    const img = decodeImage(makePng(2, 1, 8, 2, [[0, 100, 200, 1, 2, 3]], [plte]));
    expect(Array.from(img.data)).toEqual([0, 100, 200, 1, 2, 3]);
  });

  it('a palette image without PLTE is a decode error', () => {
    expect(() => decodeImage(makePng(2, 1, 8, 3, [[0, 0]]))).toThrow(ImageDecodeError);
  });

  it('4-bit palette indices are unpacked', () => {
    const plte = chunk('PLTE', Uint8Array.from({ length: 16 * 3 }, (_, i) => (i % 3 === 0 ? (i / 3) * 16 : 0)));
    const img = decodeImage(makePng(3, 1, 4, 3, [[0x1f, 0x30]], [plte]));
    expect(Array.from(img.data.filter((_, i) => i % 3 === 0))).toEqual([16, 240, 48]);
  });

  it('out-of-range palette index is a decode error', () => {
    const plte = chunk('PLTE', Uint8Array.of(1, 2, 3));
    expect(() => decodeImage(makePng(2, 1, 8, 3, [[0, 5]], [plte]))).toThrow(ImageDecodeError);
  });

  it('tRNS colour key on grey and RGB images -> transparent pixels', () => {
    const grey = decodeImage(makePng(3, 1, 8, 0, [[7, 8, 7]], [chunk('tRNS', Uint8Array.of(0, 7))]));
    expect(grey.channels).toBe(4);
    expect(Array.from(grey.data)).toEqual([7, 7, 7, 0, 8, 8, 8, 255, 7, 7, 7, 0]);
    // (3 pixels: fast-png 8.0 wrongly rejects an RGB tRNS key on images with fewer pixels than key samples.)
    const rgb = decodeImage(makePng(3, 1, 8, 2, [[1, 2, 3, 1, 2, 4, 1, 2, 3]], [chunk('tRNS', Uint8Array.of(0, 1, 0, 2, 0, 3))]));
    expect(Array.from(rgb.data)).toEqual([1, 2, 3, 0, 1, 2, 4, 255, 1, 2, 3, 0]);
  });

  it('drops an alpha channel that is entirely opaque', () => {
    const img = decodeImage(makePng(2, 1, 8, 6, [[1, 2, 3, 255, 4, 5, 6, 255]]));
    expect(img.channels).toBe(3);
    expect(Array.from(img.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('decodes Adam7-interlaced PNGs', () => {
    const src = decodeImage(read('chelsea.png'));
    const interlaced = fastPngEncode({ width: src.width, height: src.height, data: src.data, channels: 3, depth: 8 }, { interlace: 'Adam7' });
    expect(decodeImage(interlaced)).toEqual(src);
  });
});

describe('encodePng', () => {
  it('round-trips RGB, RGBA and grey exactly', () => {
    const rgb = decodeImage(read('coffee.png'));
    expect(decodeImage(encodePng(rgb))).toEqual(rgb);

    const { data } = rgb;
    const rgba = joinAlpha(rgb, { width: rgb.width, height: rgb.height, channels: 1, data: data.filter((_, i) => i % 3 === 1) });
    expect(decodeImage(encodePng(rgba))).toEqual(rgba);

    const grey: RasterImage = { width: 5, height: 2, channels: 1, data: Uint8Array.of(0, 1, 2, 3, 4, 250, 251, 252, 253, 255) };
    expect(decodeImage(encodePng(grey))).toEqual(toRgb(grey));
  });

  it('rejects a malformed raster', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) })).toThrow(ImageArgumentError);
  });
});

describe('encodePng on srq\'s deflate', () => {
  it('writes an upscaled photo in less than fast-png\'s encoder does (zlib level 6, unfiltered)', () => {
    const photo = decodeImage(read('hubble.png'));
    const upscaled = resizeBicubic(photo, photo.width * 2, photo.height * 2);
    // Measured 0.685 on this 1024² bicubic upscale (45 against 171 ms; bench/codecs.mjs has esrgan outputs).
    const ratio = encodePng(upscaled).length / fastPngEncode({ ...upscaled, depth: 8 }).length;
    expect(ratio).toBeGreaterThan(0.66);
    expect(ratio).toBeLessThan(0.71);
  });
});

describe('JPEG', () => {
  const GREY_JPEG =
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/wAALCAAQABABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/APzR/Yk8Ef8AHp+5/u9q/YD9iTwR/wAen7n+72r83/2JPBH/AB6fuf7vav2A/Yk8Ef8AHp+5/u9q/9k=';
  const PROGRESSIVE_JPEG =
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/2wBDAQICAgICAgUDAwUKBwYHCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgr/wgARCAAQABADAREAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAABgf/xAAWAQEBAQAAAAAAAAAAAAAAAAAIBQf/2gAMAwEAAhADEAAAAYsq4b7FEVWKwKfYoiv/xAAWEAADAAAAAAAAAAAAAAAAAAAABQb/2gAIAQEAAQUCXSoulRdKi6VP/8QAGBEAAgMAAAAAAAAAAAAAAAAAAAUGITH/2gAIAQMBAT8BjD7LIw+yyMPssjD7LP/EABcRAQADAAAAAAAAAAAAAAAAAAUAITH/2gAIAQIBAT8BeY248xtx5jbjzG3P/8QAFhAAAwAAAAAAAAAAAAAAAAAAAAEj/9oACAEBAAY/AlMUxTFM/8QAFRABAQAAAAAAAAAAAAAAAAAAAPH/2gAIAQEAAT8hmpqamv/aAAwDAQACAAMAAAAQBh//xAAVEQEBAAAAAAAAAAAAAAAAAAAgof/aAAgBAwEBPxCeP/8A/8QAFBEBAAAAAAAAAAAAAAAAAAAAIP/aAAgBAgEBPxAVVV//xAAVEAEBAAAAAAAAAAAAAAAAAAAAof/aAAgBAQABPxCYzGIzH//Z';
  const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

  it('expands a greyscale JPEG (made by PIL from a 16x16 ramp 12x + 3y) to RGB', () => {
    const img = decodeImage(b64(GREY_JPEG));
    expect([img.width, img.height, img.channels]).toEqual([16, 16, 3]);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const [r, g, b] = pixel(img, x, y);
        expect(r === g && g === b).toBe(true);
        expect(Math.abs(r - (12 * x + 3 * y))).toBeLessThanOrEqual(3);
      }
    }
  });

  it('decodes a progressive JPEG (PIL, 4:4:4) of a colour ramp', () => {
    const img = decodeImage(b64(PROGRESSIVE_JPEG));
    expect([img.width, img.height, img.channels]).toEqual([16, 16, 3]);
    let worst = 0;
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const want = [16 * x, 16 * y, 255 - 8 * x].map((v) => Math.min(v, 255));
        pixel(img, x, y).forEach((v, c) => (worst = Math.max(worst, Math.abs(v - want[c]))));
      }
    }
    expect(worst).toBeLessThanOrEqual(8);
  });

  it('encoding: a JPEG wasm loader that fails gives one line naming it; the next call loads again', async () => {
    const img = cropImage(decodeImage(read('coffee.png')), 0, 0, 64, 48);
    const broken = async (): Promise<WebAssembly.Module> => { throw new Error('ENOENT: mozjpeg_enc.wasm'); };
    await expect(encodeJpeg(img, broken)).rejects.toThrow(/^the JPEG encoder's wasm could not be loaded \(ENOENT: mozjpeg_enc\.wasm\)$/);
    await expect(encodeJpeg(img, broken)).rejects.toThrow(ImageError);
    expect(psnr(img, decodeImage(await encodeJpeg(img, loadJpegWasm)))).toBeGreaterThan(30);
  });

  it('encodes at the requested quality; higher quality is larger and closer', async () => {
    const src = decodeImage(read('astronaut.png'));
    const q90 = await encodeJpeg(src, loadJpegWasm, 90);
    const q30 = await encodeJpeg(src, loadJpegWasm, 30);
    expect(readImageHeader(q90)).toEqual({ format: 'jpeg', width: 512, height: 512 });
    expect(q90.length).toBeGreaterThan(q30.length);
    const p90 = psnr(src, decodeImage(q90));
    const p30 = psnr(src, decodeImage(q30));
    expect(p90).toBeGreaterThan(33);
    expect(p30).toBeGreaterThan(27);
    expect(p90).toBeGreaterThan(p30 + 3);
    expect(Object.getPrototypeOf(q90)).toBe(Uint8Array.prototype); // not a Node Buffer
  });

  it('writes baseline JPEG with 4:2:0 chroma (what libjpeg, Pillow and sharp write by default)', async () => {
    const bytes = await encodeJpeg(decodeImage(read('chelsea.png')), loadJpegWasm);
    const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1]! >= 0xc0 && bytes[i + 1]! <= 0xc2);
    expect(bytes[sof + 1]).toBe(0xc0); // SOF0: baseline, not progressive (SOF2)
    expect(bytes[sof + 9]).toBe(3); // components
    expect([bytes[sof + 11], bytes[sof + 14], bytes[sof + 17]]).toEqual([0x22, 0x11, 0x11]); // Y 2×2, Cb and Cr 1×1
  });

  it('drops alpha when encoding RGBA and keeps the colours; grey is replicated', async () => {
    const rgb = decodeImage(read('chelsea.png'));
    const alpha: RasterImage = { width: rgb.width, height: rgb.height, channels: 1, data: new Uint8Array(rgb.width * rgb.height).fill(7) };
    const back = decodeImage(await encodeJpeg(joinAlpha(rgb, alpha), loadJpegWasm, 95));
    expect(back.channels).toBe(3);
    expect(psnr(rgb, back)).toBeGreaterThan(35);
    const grey: RasterImage = { width: 16, height: 8, channels: 1, data: Uint8Array.from({ length: 128 }, (_, i) => 2 * i) };
    const g = decodeImage(await encodeJpeg(grey, loadJpegWasm, 95));
    expect(Math.max(...Array.from({ length: 128 }, (_, i) => Math.abs(g.data[3 * i + 1]! - 2 * i)))).toBeLessThanOrEqual(6);
  });

  it('rejects a quality outside 1..100', async () => {
    const img: RasterImage = { width: 1, height: 1, channels: 3, data: new Uint8Array(3) };
    await expect(encodeJpeg(img, loadJpegWasm, 0)).rejects.toThrow(ImageError);
    await expect(encodeJpeg(img, loadJpegWasm, 101)).rejects.toThrow(/between 1 and 100/);
  });
});

describe('size limit is enforced from the header, before decoding', () => {
  it('a PNG header claiming 100000x100000 with no pixel data gives ImageTooLargeError', () => {
    const bytes = concat([SIGNATURE, ihdr(100000, 100000, 8, 2)]);
    expect(() => decodeImage(bytes)).toThrow(ImageTooLargeError);
    try {
      decodeImage(bytes);
    } catch (error) {
      const e = error as ImageTooLargeError;
      expect(e.message).toMatch(/100000x100000/);
      expect(e.message).toMatch(/40000000 pixels/);
      expect([e.width, e.height, e.maxPixels]).toEqual([100000, 100000, 40e6]);
    }
  });

  it('a JPEG header (SOF0) claiming 60000x60000 gives ImageTooLargeError', () => {
    const sof0 = [0xff, 0xc0, 0x00, 0x11, 8, ...u16(60000), ...u16(60000), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
    const app0 = [0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46];
    expect(() => decodeImage(Uint8Array.from([0xff, 0xd8, ...app0, ...sof0]))).toThrow(ImageTooLargeError);
  });

  it('honours a caller-supplied maxPixels and names both sizes', () => {
    expect(() => decodeImage(read('astronaut.png'), { maxPixels: 512 * 511 })).toThrow(/512x512.*261632 pixels/);
    expect(() => decodeImage(read('rocket.jpg'), { maxPixels: 100_000 })).toThrow(ImageTooLargeError);
    expect(decodeImage(read('astronaut.png'), { maxPixels: 512 * 512 }).width).toBe(512);
  });
});

describe('corrupt and truncated input gives ImageDecodeError with a one-line message', () => {
  const expectDecodeError = (bytes: Uint8Array) => {
    let caught: unknown;
    try {
      decodeImage(bytes);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ImageDecodeError);
    expect((caught as Error).message).not.toMatch(/\n/);
    return (caught as Error).message;
  };

  it('truncated PNGs', () => {
    const png = read('astronaut.png');
    for (const cut of [20, 40, 1000, png.length >> 1, png.length - 12]) expect(expectDecodeError(png.subarray(0, cut))).toMatch(/PNG/);
  });

  it('truncated JPEGs', () => {
    const jpg = read('rocket.jpg');
    for (const cut of [4, 300, 5000, jpg.length >> 1]) expect(expectDecodeError(jpg.subarray(0, cut))).toMatch(/JPEG/);
  });

  it('a PNG with a flipped byte inside the image data (CRC mismatch)', () => {
    const png = read('coffee.png').slice();
    png[png.length >> 1] ^= 0x55;
    expectDecodeError(png);
  });

  it('a PNG with a valid header but no image data', () => {
    expectDecodeError(concat([SIGNATURE, ihdr(10, 10, 8, 2), chunk('IEND', new Uint8Array(0))]));
  });
});

describe('raster helpers', () => {
  const rgba: RasterImage = { width: 2, height: 1, channels: 4, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) };

  it('splitAlpha / joinAlpha round-trip', () => {
    const { rgb, alpha } = splitAlpha(rgba);
    expect(Array.from(rgb.data)).toEqual([1, 2, 3, 5, 6, 7]);
    expect(Array.from(alpha!.data)).toEqual([4, 8]);
    expect(joinAlpha(rgb, alpha!)).toEqual(rgba);
    expect(splitAlpha(rgb)).toEqual({ rgb });
  });

  it('joinAlpha rejects mismatched sizes', () => {
    const { rgb } = splitAlpha(rgba);
    expect(() => joinAlpha(rgb, { width: 1, height: 1, channels: 1, data: Uint8Array.of(0) })).toThrow(ImageArgumentError);
  });

  it('toRgb replicates grey and drops alpha', () => {
    expect(Array.from(toRgb({ width: 2, height: 1, channels: 1, data: Uint8Array.of(9, 200) }).data)).toEqual([9, 9, 9, 200, 200, 200]);
    expect(Array.from(toRgb(rgba).data)).toEqual([1, 2, 3, 5, 6, 7]);
  });

  it('cropImage copies the rectangle and rejects one that does not fit', () => {
    const img = decodeImage(read('chelsea.png'));
    const c = cropImage(img, 10, 20, 3, 2);
    expect([c.width, c.height]).toEqual([3, 2]);
    expect(pixel(c, 2, 1)).toEqual(pixel(img, 12, 21));
    expect(() => cropImage(img, 450, 0, 2, 1)).toThrow(ImageArgumentError);
    expect(() => cropImage(img, -1, 0, 1, 1)).toThrow(/does not fit/);
  });
});
