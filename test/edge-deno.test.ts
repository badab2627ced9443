// The Deno entry as deployed (`deno task start`, deno from npm, native onnxruntime-node through --allow-ffi)
// started as a real process on a free loopback port: a real photo through HTTP equals the library's output
// (onnxruntime-web). Started without --allow-ffi (as on Deno Deploy) it serves on wasm threads, same bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeJpeg, encodePng } from '../src-core/image/index.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSharpJpeg } from '../src-edge/jpeg-sharp.node.ts';
import { loadNapiPng } from '../src-edge/png-napi.node.ts';
import { libraryUpscale, photoCrop, postImage, repoRoot, startServer, type RunningServer } from './fixtures/edge/harness.ts';

let server: RunningServer | undefined;
let wasmServer: RunningServer | undefined;
const env = { PORT: '0', SRQ_TILE_SIZE: '64', SRQ_THREADS: '2', NO_COLOR: '1' };

beforeAll(async () => {
  server = await startServer('node_modules/.bin/deno', ['task', 'start'], { env });
  // The task's permissions less FFI. Two wasm threads on purpose: an early note saw INT8 sessions hang with
  // threads on Deno (they do not any more).
  const deno = JSON.parse(readFileSync(join(repoRoot, 'deno.json'), 'utf8')).tasks.start.split(' ');
  wasmServer = await startServer(deno[0], deno.slice(1).filter((a: string) => a !== '--allow-ffi'), { env });
});

afterAll(async () => {
  await server?.stop();
  await wasmServer?.stop();
});

describe('Deno entry (real process)', () => {
  it('serves INT8 on native onnxruntime-node with two threads; without FFI on two wasm threads, and says why', async () => {
    const models = await (await fetch(`${server!.url}/v1/models`)).json();
    expect(models).toMatchObject({ runtime: 'deno', serving: { label: 'cpu-int8' }, cpuEngine: { kind: 'native' } });
    expect(models.backend).toMatch(/^onnxruntime-node 1\.\d+\.\d+ \(native, 2 threads\)$/);
    const wasm = await (await fetch(`${wasmServer!.url}/v1/models`)).json();
    expect(wasm.backend).toMatch(/^onnxruntime-web 1\.\d+\.\d+ \(wasm, 2 threads\)$/);
    expect(wasm.cpuEngine).toEqual({ kind: 'wasm', reason: expect.stringMatching(/^onnxruntime-node did not load \(Requires ffi access to ".*onnxruntime_binding\.node", run again with the --allow-ffi flag\): wasm$/) });
  });

  it('upscales a real photo (JPEG in, PNG out) to the library\'s exact pixels, PNG by @napi-rs/image with FFI', async () => {
    // 528 × 384 out: three 256² of pixels, so the PNG is encoded as three bands at once, joined (png-stitch.ts).
    const crop = photoCrop('rocket.jpg', 176, 128);
    const jpeg = await encodeJpeg(crop.image, loadJpegWasm, 92);
    const { res, bytes } = await postImage(`${server!.url}/v1/upscale?model=esrgan-slim-x3&format=png`, jpeg, 'image/jpeg');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-srq-tiles')).toBe('12');
    const expected = await libraryUpscale('esrgan-slim-x3', 'int8', decodeImage(jpeg), 64);
    const out = decodeImage(bytes);
    expect([out.width, out.height]).toEqual([528, 384]);
    expect(Buffer.from(out.data).equals(Buffer.from(expected.data))).toBe(true);
    // With FFI the PNG is @napi-rs/image's (the bytes Node's makes); without, srq's JS deflate's: the same pixels.
    expect(Buffer.from(bytes).equals(Buffer.from(await (await loadNapiPng()).encode(expected)))).toBe(true);
    const onWasm = await postImage(`${wasmServer!.url}/v1/upscale?model=esrgan-slim-x3&format=png`, jpeg, 'image/jpeg');
    expect(Buffer.from(onWasm.bytes).equals(Buffer.from(encodePng(expected)))).toBe(true);
    const names = await Promise.all([server!, wasmServer!].map(async (s) => (await (await fetch(`${s.url}/v1/models`)).json()).pngEncoder));
    expect(names).toEqual([
      { name: expect.stringMatching(/^@napi-rs\/image \d+\.\d+\.\d+, up to 4 row bands at once$/), reason: expect.stringMatching(/ loaded$/) },
      { name: "srq's deflate (JS)", reason: expect.stringMatching(/^@napi-rs\/image did not load \(.+\): srq's deflate \(JS\)$/) },
    ]);
  });

  it('answers a JPEG with a JPEG: sharp with FFI, else the MozJPEG wasm (read through node:fs); the bytes Node makes', async () => {
    const crop = photoCrop('rocket.jpg', 64, 48);
    const jpeg = await encodeJpeg(crop.image, loadJpegWasm, 92);
    const expected = await libraryUpscale('esrgan-slim-x3', 'int8', decodeImage(jpeg), 64);
    const { res, bytes } = await postImage(`${server!.url}/v1/upscale?model=esrgan-slim-x3&quality=80`, jpeg, 'image/jpeg');
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(bytes).equals(Buffer.from(await (await loadSharpJpeg()).encode(expected, 80)))).toBe(true);
    const onWasm = await postImage(`${wasmServer!.url}/v1/upscale?model=esrgan-slim-x3&quality=80`, jpeg, 'image/jpeg');
    expect(Buffer.from(onWasm.bytes).equals(Buffer.from(await encodeJpeg(expected, loadJpegWasm, 80)))).toBe(true);
    const names = await Promise.all([server!, wasmServer!].map(async (s) => (await (await fetch(`${s.url}/v1/models`)).json()).jpegEncoder.name));
    expect(names).toEqual([expect.stringMatching(/^sharp /), 'MozJPEG wasm (@jsquash/jpeg)']);
  });
});
