// Joining PNGs of row bands into one (src-edge/png-stitch.ts), as the Node/Deno PNG encoder does with the bands it
// encodes at once (png-napi.node.ts): the joined file must be the whole image, exactly, for libpng (through sharp,
// which checks every CRC and the Adler-32) and zlib; streams of another form are refused, not joined wrongly.
import { readFileSync } from 'node:fs';
import { crc32, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cropImage, decodeImage, encodePng, joinAlpha, type RasterImage } from '../src-core/image/index.ts';
import { bandsJoin, loadNapiPng } from '../src-edge/png-napi.node.ts';
import { stitchPngBands } from '../src-edge/png-stitch.ts';

const photo = decodeImage(new Uint8Array(readFileSync(new URL('../images/astronaut.png', import.meta.url))));
const grey: RasterImage = { width: photo.width, height: photo.height, channels: 1, data: photo.data.filter((_, i) => i % 3 === 1) };

/** Rows [top, top + height) of an image. */
function rows(img: RasterImage, top: number, height: number): RasterImage {
  const line = img.width * img.channels;
  return { ...img, height, data: img.data.subarray(top * line, (top + height) * line) };
}

/** The image cut at these row heights. */
function cut(img: RasterImage, heights: readonly number[]): RasterImage[] {
  let top = 0;
  return heights.map((h) => rows(img, (top += h) - h, h));
}

async function readBack(png: Uint8Array, channels: number): Promise<Buffer> {
  return (channels === 1 ? sharp(png).extractChannel(0) : sharp(png)).raw().toBuffer();
}

/** The zlib stream of a PNG's IDAT chunks. */
function zlibOf(png: Uint8Array): Uint8Array {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const parts: Uint8Array[] = [];
  for (let at = 8; at < png.length; at += 12 + view.getUint32(at)) {
    if (String.fromCharCode(...png.subarray(at + 4, at + 8)) === 'IDAT') parts.push(png.subarray(at + 8, at + 8 + view.getUint32(at)));
  }
  return Buffer.concat(parts);
}

describe('stitchPngBands', () => {
  it('joins bands of any height, each encoded alone, into the whole image, for 1, 3 and 4 channels', async () => {
    const whole = await loadNapiPng(1);
    const rgba = joinAlpha(photo, grey);
    const cases: [RasterImage, number[]][] = [
      [photo, [256, 256]],
      [photo, [1, 300, 211]], // a one-row band first: its only row is the one rewritten
      [rgba, [128, 128, 128, 128]],
      [grey, [100, 1, 1, 410]],
      [rows(photo, 10, 6), [1, 1, 1, 1, 1, 1]], // every row its own band
    ];
    for (const [img, heights] of cases) {
      const png = stitchPngBands(await Promise.all(cut(img, heights).map((b) => whole.encode(b))), crc32);
      expect(png).toBeDefined();
      const meta = await sharp(png!).metadata();
      expect([meta.width, meta.height, meta.channels]).toEqual([img.width, img.height, img.channels]);
      expect((await readBack(png!, img.channels)).equals(Buffer.from(img.data))).toBe(true);
      // zlib checks the joined Adler-32 too; each row's filter byte is Paeth, or Sub where a band began.
      const raw = inflateSync(zlibOf(png!));
      const line = img.width * img.channels + 1;
      expect(raw.length).toBe(img.height * line);
      let top = 0;
      const starts = new Set(heights.map((h) => (top += h) - h));
      for (let y = 0; y < img.height; y++) expect(raw[y * line]).toBe(y > 0 && starts.has(y) ? 1 : 4);
    }
  });

  it('is what the Node/Deno encoder serves for images of several 256², with 2 to 4 bands and a size within 0.1% of whole', async () => {
    const [banded, whole] = [await loadNapiPng(), await loadNapiPng(1)];
    expect(banded.name).toMatch(/^@napi-rs\/image \d+\.\d+\.\d+, up to 4 row bands at once$/);
    for (const img of [photo, cropImage(photo, 0, 0, 512, 256), cropImage(photo, 0, 0, 256, 255)]) {
      const [a, b] = [await banded.encode(img), await whole.encode(img)];
      expect((await readBack(a, 3)).equals(Buffer.from(img.data))).toBe(true);
      // Banded streams are several blocks (the first not final); a 256 × 255 image is one band.
      const blocks = (zlibOf(a)[2]! & 1) === 0 ? 'several' : 'one';
      expect(blocks).toBe(img.width * img.height >= 2 * 256 * 256 ? 'several' : 'one');
      expect(Math.abs(a.length / b.length - 1)).toBeLessThan(0.002);
    }
  });

  it('refuses streams of another form (several blocks, another encoder) and bands that do not stack', async () => {
    const whole = await loadNapiPng(1);
    const [top, bottom] = cut(photo, [256, 256]);
    const sharpPngs = await Promise.all([top!, bottom!].map((b) => sharp(b.data, { raw: { width: b.width, height: b.height, channels: 3 } }).png().toBuffer()));
    expect(stitchPngBands(sharpPngs.map((b) => new Uint8Array(b)), crc32)).toBeUndefined();
    // An already joined file is several blocks: not joined again.
    const joined = stitchPngBands([await whole.encode(top!), await whole.encode(bottom!)], crc32)!;
    expect(stitchPngBands([joined, await whole.encode(top!)], crc32)).toBeUndefined();
    expect(stitchPngBands([await whole.encode(top!), await whole.encode(cropImage(photo, 0, 0, 500, 20))], crc32)).toBeUndefined();
    expect(stitchPngBands([await whole.encode(top!), await whole.encode(rows(grey, 0, 20))], crc32)).toBeUndefined();
    // A band of a few hundred bytes is stored, not coded (fdeflate): not joined either; the encoder's bands are ≥ 256².
    const tiny = cropImage(photo, 5, 7, 9, 6);
    expect(stitchPngBands(await Promise.all(cut(tiny, [3, 3]).map((b) => whole.encode(b))), crc32)).toBeUndefined();
    expect(stitchPngBands([encodePng(top!).subarray(0, 40)], crc32)).toBeUndefined();
    expect(stitchPngBands([], crc32)).toBeUndefined();
  });

  it('is probed once when the encoder loads: its own streams join, another encoder\'s do not (then it encodes whole)', async () => {
    const whole = await loadNapiPng(1);
    expect(await bandsJoin((img) => whole.encode(img))).toBe(true);
    const bySharp = async (img: RasterImage) => new Uint8Array(await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer());
    expect(await bandsJoin(bySharp)).toBe(false);
  });
});
