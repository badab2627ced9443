// The edge's response encoders on what they really encode: 1024² outputs of esrgan-slim-x4 (256² crops of two
// photos, upscaled by `srq upscale`). Per encoder: median time of 7 runs after 5 warm-ups, bytes, and RGB PSNR of
// the decoded file against the output. First part of `npm run bench:edge` (skip with --skip-codecs); also
// `node bench/codecs.mjs` after `npm run build`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import encodeMozJpeg, * as mozjpeg from '@jsquash/jpeg/encode.js';
import jpegJs from 'jpeg-js';
import { median } from './edge-latency.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

async function timed(run) {
  for (let i = 0; i < 5; i++) await run(); // a serving process is warm: its JIT has compiled the encoders
  const times = [];
  let out;
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    out = await run();
    times.push(performance.now() - t);
  }
  return { ms: median(times), bytes: out };
}

export async function codecs() {
  const img = await import(`${root}/build/src-core/image/index.js`);
  const { loadJpegWasm } = await import(`${root}/build/src-core/image/jpeg-wasm.node.js`);
  const { psnr } = await import(`${root}/build/src-core/metrics/index.js`);
  const temp = mkdtempSync(join(tmpdir(), 'srq-codecs-'));
  const { loadNapiPng } = await import(`${root}/build/src-edge/png-napi.node.js`);
  const [napiPng, napiWhole] = [await loadNapiPng(), await loadNapiPng(1)]; // the edge's Node/Deno PNG, and unbanded
  const sharpJpeg = await (await import(`${root}/build/src-edge/jpeg-sharp.node.js`)).loadSharpJpeg();
  // The previous settings, for comparison: Squoosh's MozJPEG defaults (progressive, trellis), 4:4:4 baseline.
  await mozjpeg.init(await loadJpegWasm(), { locateFile: (f) => f });
  const rgba = (o) => {
    const d = new Uint8ClampedArray(o.width * o.height * 4).fill(255);
    for (let i = 0; i < o.width * o.height; i++) for (let c = 0; c < 3; c++) d[i * 4 + c] = o.data[i * 3 + c];
    return { data: d, width: o.width, height: o.height };
  };
  const moz = async (o, opts) => new Uint8Array(await encodeMozJpeg(rgba(o), { quality: 90, ...opts }));
  const base = { baseline: true, progressive: false, optimize_coding: true, auto_subsample: false };
  const encoders = {
    'PNG, @napi-rs/image fast on Paeth rows, 4 bands at once (edge on Node, Deno)': (o) => napiPng.encode(o),
    'PNG, @napi-rs/image fast on Paeth rows, whole': (o) => napiWhole.encode(o),
    'PNG, srq deflate on Paeth rows (edge on Workers; srq upscale, reports)': (o) => img.encodePng(o),
    'JPEG q90, sharp (edge on Node, Deno)': (o) => sharpJpeg.encode(o, 90),
    'JPEG q90, MozJPEG wasm baseline 4:2:0 (edge on Workers)': (o) => img.encodeJpeg(o, loadJpegWasm, 90),
    'JPEG q90, MozJPEG baseline 4:4:4': (o) => moz(o, { ...base, chroma_subsample: 1 }),
    'JPEG q90, MozJPEG Squoosh defaults': (o) => moz(o, {}),
    'JPEG q90, jpeg-js 4:4:4 (srq before)': (o) => new Uint8Array(jpegJs.encode(rgba(o), 90).data),
  };
  console.log('| encoder | photo | ms | KB | PSNR dB |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  try {
    for (const photo of ['astronaut.png', 'chelsea.png']) {
      const full = img.decodeImage(new Uint8Array(readFileSync(join(root, 'images', photo))));
      const crop = img.cropImage(full, Math.floor((full.width - 256) / 2), Math.floor((full.height - 256) / 2), 256, 256);
      writeFileSync(join(temp, 'in.png'), img.encodePng(crop));
      const r = spawnSync(process.execPath, ['bin/srq.js', 'upscale', 'models/esrgan-slim-x4.onnx', join(temp, 'in.png'), '-o', join(temp, 'out.png')], { cwd: root, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`srq upscale failed: ${r.stderr}`);
      const output = img.decodeImage(new Uint8Array(readFileSync(join(temp, 'out.png'))));
      for (const [name, encode] of Object.entries(encoders)) {
        const { ms, bytes } = await timed(() => encode(output));
        const back = img.decodeImage(bytes);
        const quality = psnr(output, back);
        console.log(`| ${name} | ${photo} ${output.width}² | ${ms.toFixed(0)} | ${(bytes.length / 1024).toFixed(0)} | ${Number.isFinite(quality) ? quality.toFixed(2) : 'lossless'} |`);
      }
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await codecs();
