// The Deno entry as deployed (`deno task start`, deno from npm, onnxruntime-web with wasm threads) started
// as a real process on a free loopback port: a real photo through HTTP equals the library's output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeJpeg } from '../src-core/image/index.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import { libraryUpscale, photoCrop, postImage, startServer, type RunningServer } from './fixtures/edge/harness.ts';

let server: RunningServer | undefined;

beforeAll(async () => {
  // Two wasm threads on purpose: an early note saw INT8 sessions hang with threads on Deno (they do not any more).
  server = await startServer('node_modules/.bin/deno', ['task', 'start'], { env: { PORT: '0', SRQ_TILE_SIZE: '64', SRQ_THREADS: '2', NO_COLOR: '1' } });
});

afterAll(async () => {
  await server?.stop();
});

describe('Deno entry (real process)', () => {
  it('serves INT8 on two wasm threads', async () => {
    const models = await (await fetch(`${server!.url}/v1/models`)).json();
    expect(models).toMatchObject({ runtime: 'deno', serving: { label: 'cpu-int8' } });
    expect(models.backend).toMatch(/\(wasm, 2 threads\)$/);
  });

  it('upscales a real photo (JPEG in, PNG out) to the library\'s exact pixels', async () => {
    const crop = photoCrop('rocket.jpg', 110, 80);
    const jpeg = await encodeJpeg(crop.image, loadJpegWasm, 92);
    const { res, bytes } = await postImage(`${server!.url}/v1/upscale?model=esrgan-slim-x3&format=png`, jpeg, 'image/jpeg');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-srq-tiles')).toBe('6');
    const expected = await libraryUpscale('esrgan-slim-x3', 'int8', decodeImage(jpeg), 64);
    const out = decodeImage(bytes);
    expect([out.width, out.height]).toEqual([330, 240]);
    expect(Buffer.from(out.data).equals(Buffer.from(expected.data))).toBe(true);
  });

  it('answers a JPEG with a JPEG from the MozJPEG wasm (read through node:fs): the bytes Node makes', async () => {
    const crop = photoCrop('rocket.jpg', 64, 48);
    const jpeg = await encodeJpeg(crop.image, loadJpegWasm, 92);
    const { res, bytes } = await postImage(`${server!.url}/v1/upscale?model=esrgan-slim-x3&quality=80`, jpeg, 'image/jpeg');
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const expected = await libraryUpscale('esrgan-slim-x3', 'int8', decodeImage(jpeg), 64);
    expect(Buffer.from(bytes).equals(Buffer.from(await encodeJpeg(expected, loadJpegWasm, 80)))).toBe(true);
  });
});
