// The Hono app over real HTTP (@hono/node-server on loopback, the Node runtime's real ORT-web sessions):
// successful upscales byte-for-byte equal to the library's, and every error status sent for real.
import { serve } from '@hono/node-server';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeJpeg, encodePng, type RasterImage } from '../src-core/image/index.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import { createEdgeApp } from '../src-edge/app.ts';
import type { Engine } from '../src-edge/engine.ts';
import { loadSharpJpeg } from '../src-edge/jpeg-sharp.node.ts';
import { nodeRuntime } from '../src-edge/runtime.node.ts';
import { embeddedEntry, libraryUpscale, photoCrop, postImage } from './fixtures/edge/harness.ts';

// Every server in this process shares one onnxruntime-web instance, whose thread count the first session fixes.
const BASE_ENV = { SRQ_THREADS: '1', SRQ_TILE_SIZE: '64' };

interface TestServer { url: string; engine: Engine; close(): Promise<void> }
const servers: TestServer[] = [];

async function startApp(env: Record<string, string> = {}, opts: { start?: boolean } = {}): Promise<TestServer> {
  const { app, engine } = createEdgeApp(nodeRuntime(), { ...BASE_ENV, ...env });
  const port = await new Promise<number>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    servers.push({ url: '', engine, close: () => new Promise((r) => { (s as import('node:http').Server).closeAllConnections(); s.close(() => r()); }) });
  });
  const server = servers.at(-1)!;
  server.url = `http://127.0.0.1:${port}`;
  if (opts.start !== false) await engine.start();
  return server;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Every error: JSON `{ error: { code, message } }`, one line, no stack trace. */
async function expectError(res: Response | Promise<Response>, status: number, code: string): Promise<string> {
  const r = await res;
  const text = await r.text();
  expect({ status: r.status, text }).toMatchObject({ status });
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(body.error.message).not.toMatch(/\n|\s+at\s/);
  return body.error.message;
}

/** A POST whose response body is left unread (for expectError). */
function send(url: string, body: Uint8Array, type = 'image/png'): Promise<Response> {
  return fetch(url, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': type } });
}

/** A POST whose body arrives only when finish() is called: it holds its place in the limiter until then. */
function heldPost(url: string, body: Uint8Array, type = 'image/png') {
  const req = httpRequest(url, { method: 'POST', headers: { 'content-type': type, 'content-length': body.length } });
  const response = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
  req.write(body.subarray(0, 16));
  return { finish: () => (req.end(body.subarray(16)), response) };
}

/** Waits (bounded) until the server reports this many upscales running and queued. */
async function waitForQueue(url: string, active: number, queued: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const q = (await (await fetch(`${url}/v1/models`)).json()).queue;
    if (q.active === active && q.queued === queued) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`queue never reached ${active} active / ${queued} queued`);
}

const crop = photoCrop('chelsea.png', 100, 72); // 4 tiles of 64 at x4
let server: TestServer;

beforeAll(async () => {
  server = await startApp();
});

describe('POST /v1/upscale', () => {
  it('returns the library\'s exact pixels for a PNG, with model, variant, scale, tiles and Server-Timing', async () => {
    const { res, bytes } = await postImage(`${server.url}/v1/upscale`, crop.png);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const entry = embeddedEntry('esrgan-slim-x4', 'int8');
    expect(Object.fromEntries(['x-srq-model', 'x-srq-variant', 'x-srq-device', 'x-srq-scale', 'x-srq-tiles', 'x-srq-model-sha256'].map((h) => [h, res.headers.get(h)]))).toEqual({
      'x-srq-model': 'esrgan-slim-x4', 'x-srq-variant': 'int8', 'x-srq-device': 'cpu', 'x-srq-scale': '4', 'x-srq-tiles': '4', 'x-srq-model-sha256': entry.sha256,
    });
    expect(res.headers.get('server-timing')).toMatch(/^queue;dur=\d+, decode;dur=[\d.]+, infer;dur=[\d.]+, encode;dur=[\d.]+$/);
    const out = decodeImage(bytes);
    const expected = await libraryUpscale('esrgan-slim-x4', 'int8', crop.image, 64);
    expect(out.width).toBe(400);
    expect(out.height).toBe(288);
    expect(Buffer.from(out.data).equals(Buffer.from(expected.data))).toBe(true);
  });

  it('without SRQ_TILE_SIZE sizes windows from the memory budget: a whole photo in one window, 0% recomputed context; a small budget cuts strips, same pixels', async () => {
    const photo = photoCrop('camera.png', 200, 160);
    const whole = await startApp({ SRQ_TILE_SIZE: '' });
    const one = await postImage(`${whole.url}/v1/upscale`, photo.png);
    expect(one.res.status).toBe(200);
    expect([one.res.headers.get('x-srq-tiles'), one.res.headers.get('x-srq-window')]).toEqual(['1', '200x160']);
    // The Node app runs on native onnxruntime-node: 40 MB holds ≈ 7 400 px past the slim file's native base (28 MB,
    // its nativeMemory measure): windows of that size, cut where cheapest.
    const small = await startApp({ SRQ_TILE_SIZE: '', SRQ_MEMORY_MB: '40' });
    const cut = await postImage(`${small.url}/v1/upscale`, photo.png);
    expect(cut.res.status).toBe(200);
    const [w, h] = cut.res.headers.get('x-srq-window')!.split('x').map(Number);
    const entry = embeddedEntry('esrgan-slim-x4', 'int8');
    expect(entry.nativeMemory!.baseBytes + entry.nativeMemory!.bytesPerPixel * w! * h!).toBeLessThanOrEqual(40 * 1024 * 1024);
    expect(Number(cut.res.headers.get('x-srq-tiles'))).toBeGreaterThan(1);
    expect(Buffer.from(decodeImage(cut.bytes).data).equals(Buffer.from(decodeImage(one.bytes).data))).toBe(true);
    expect((await (await fetch(`${small.url}/v1/models`)).json()).memoryBudgetMB).toBe(40);
  });

  it('answers a JPEG with a JPEG, honours format=png, model= and quality=, and reads multipart uploads', async () => {
    const jpeg = await encodeJpeg(crop.image, loadJpegWasm, 95);
    const asJpeg = await postImage(`${server.url}/v1/upscale?model=esrgan-slim-x2&quality=70`, jpeg, 'image/jpeg');
    expect(asJpeg.res.status).toBe(200);
    expect(asJpeg.res.headers.get('content-type')).toBe('image/jpeg');
    expect(asJpeg.res.headers.get('x-srq-scale')).toBe('2');
    expect(decodeImage(asJpeg.bytes)).toMatchObject({ width: 200, height: 144 });
    // The JPEG is the library's output through the same encoder (sharp on Node) at the asked quality, byte for byte.
    const library = await libraryUpscale('esrgan-slim-x2', 'int8', decodeImage(jpeg), 64);
    expect(Buffer.from(asJpeg.bytes).equals(Buffer.from(await (await loadSharpJpeg()).encode(library, 70)))).toBe(true);

    const asPng = await postImage(`${server.url}/v1/upscale?model=esrgan-slim-x2&format=png`, jpeg, 'image/jpeg');
    expect(asPng.res.headers.get('content-type')).toBe('image/png');
    const expected = await libraryUpscale('esrgan-slim-x2', 'int8', decodeImage(jpeg), 64);
    expect(Buffer.from(decodeImage(asPng.bytes).data).equals(Buffer.from(expected.data))).toBe(true);

    const form = new FormData();
    form.append('image', new Blob([crop.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'chelsea.png');
    const multipart = await fetch(`${server.url}/v1/upscale?model=esrgan-slim-x2`, { method: 'POST', body: form });
    expect(multipart.status).toBe(200);
    expect(decodeImage(new Uint8Array(await multipart.arrayBuffer()))).toMatchObject({ width: 200, height: 144 });
  });

  it('keeps the alpha channel of an RGBA PNG', async () => {
    const { image } = photoCrop('coffee.png', 40, 30);
    const rgba: RasterImage = { width: 40, height: 30, channels: 4, data: new Uint8Array(40 * 30 * 4) };
    for (let i = 0; i < 40 * 30; i++) {
      rgba.data.set(image.data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba.data[i * 4 + 3] = (i % 40) < 20 ? 255 : 64; // right half translucent
    }
    const { res, bytes } = await postImage(`${server.url}/v1/upscale?model=esrgan-slim-x2`, encodePng(rgba));
    expect(res.status).toBe(200);
    const out = decodeImage(bytes);
    expect(out).toMatchObject({ width: 80, height: 60, channels: 4 });
    expect(out.data[3]).toBe(255);
    expect(out.data[(10 * 80 + 70) * 4 + 3]).toBe(64);
  });
});

describe('GET /v1/models, /healthz, /', () => {
  it('lists models, scales, variants and what this host serves and why', async () => {
    const body = await (await fetch(`${server.url}/v1/models`)).json();
    expect(body).toMatchObject({
      runtime: 'node',
      backend: expect.stringMatching(/^onnxruntime-node 1\.\d+\.\d+ \(native, 1 thread\)$/),
      cpuEngine: { kind: 'native' },
      jpegEncoder: { name: expect.stringMatching(/^sharp \d+\.\d+\.\d+ \(libvips \d+\.\d+\.\d+\)$/) },
      pngEncoder: { name: expect.stringMatching(/^@napi-rs\/image \d+\.\d+\.\d+, up to 4 row bands at once$/) },
      serving: { label: 'cpu-int8', variant: 'int8', device: 'cpu', reason: expect.stringMatching(/^CPU host \(.+\): INT8 on the CPU$/) },
      defaultModel: 'esrgan-slim-x4',
      manifest: 'embedded',
      queue: { active: 0, queued: 0 },
    });
    expect(body.models.map((m: { name: string; scale: number }) => `${m.name}:${m.scale}`)).toEqual([
      'esrgan-slim-x4:4', 'esrgan-slim-x2:2', 'esrgan-slim-x3:3', 'esrgan-slim-x8:8', 'esrgan-medium-x4:4', 'realesr-x4fast:4',
    ]);
    expect(body.models[0]).toMatchObject({ served: { variant: 'int8', device: 'cpu' }, loaded: true });
    expect(body.models[0].variants.map((v: { variant: string; host: string }) => `${v.variant}/${v.host}`)).toEqual(['int8/cpu', 'fp16/gpu']);
  });

  it('is not ready before the warm-up tile ran, then ready', async () => {
    const cold = await startApp({}, { start: false });
    await expectError(fetch(`${cold.url}/healthz`), 503, 'not_ready');
    await cold.engine.start();
    const res = await fetch(`${cold.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', runtime: 'node' });
  });

  it('serves the demo page', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('<input id="file" type="file"');
  });
});

describe('errors, each sent for real', () => {
  const up = (q = '') => `${server.url}/v1/upscale${q}`;

  it('400 for bad parameters, an unknown model, an empty, truncated or corrupt image, and a form without "image"', async () => {
    await expectError(send(up('?format=webp'), crop.png), 400, 'bad_parameter');
    await expectError(send(up('?quality=0'), crop.png), 400, 'bad_parameter');
    expect(await expectError(send(up('?model=esrgan-huge'), crop.png), 400, 'unknown_model')).toMatch(/use one of esrgan-slim-x4, /);
    await expectError(fetch(up(), { method: 'POST', headers: { 'content-type': 'image/png' } }), 400, 'empty_image');
    await expectError(send(up(), crop.png.subarray(0, 20)), 400, 'undecodable_image');
    const corrupt = crop.png.slice();
    corrupt.fill(7, 60, 400); // header intact, pixel data broken
    expect(await expectError(send(up(), corrupt), 400, 'undecodable_image')).toMatch(/^PNG is corrupt/);
    const form = new FormData();
    form.append('picture', new Blob([crop.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
    await expectError(fetch(up(), { method: 'POST', body: form }), 400, 'missing_image');
  });

  it('404 as JSON for an unknown route', async () => {
    await expectError(fetch(`${server.url}/v2/upscale`), 404, 'not_found');
  });

  it('413 for a body over the limit (with and without Content-Length)', async () => {
    const small = await startApp({ SRQ_MAX_BODY_BYTES: '1000' });
    await expectError(send(`${small.url}/v1/upscale`, crop.png), 413, 'body_too_large');
    const chunked = new ReadableStream({ start(c) { c.enqueue(crop.png); c.close(); } });
    await expectError(
      fetch(`${small.url}/v1/upscale`, { method: 'POST', body: chunked, headers: { 'content-type': 'image/png' }, duplex: 'half' } as RequestInit),
      413,
      'body_too_large',
    );
  });

  it('413 from the header alone for too many input or output pixels', async () => {
    // A PNG whose IHDR claims 30000×30000: 33 bytes, rejected before any decoding.
    const bomb = new Uint8Array(crop.png.subarray(0, 33));
    new DataView(bomb.buffer).setUint32(16, 30000);
    new DataView(bomb.buffer).setUint32(20, 30000);
    expect(await expectError(send(up(), bomb), 413, 'image_too_large')).toMatch(/30000x30000 \(900000000 px\), over the limit of 1048576 px/);
    const big = photoCrop('astronaut.png', 300, 280).png; // 0.08 MP in, 1.3 MP at x4: fine; 5.4 MP at x8 is not
    expect(await expectError(send(up('?model=esrgan-slim-x8'), big), 413, 'output_too_large')).toMatch(/gives 5376000 px, over the output limit of 4194304 px/);
  });

  it('415 for a wrong Content-Type, a GIF, a type that lies, and a non-image form field', async () => {
    await expectError(send(up(), crop.png, 'text/plain'), 415, 'unsupported_media_type');
    await expectError(send(up(), new TextEncoder().encode('GIF89a\x01\x00\x01\x00'), 'image/png'), 415, 'unsupported_media_type');
    expect(await expectError(send(up(), await encodeJpeg(crop.image, loadJpegWasm), 'image/png'), 415, 'type_mismatch')).toMatch(/says image\/png but the bytes are a JPEG/);
    const form = new FormData();
    form.append('image', new Blob([crop.png as Uint8Array<ArrayBuffer>], { type: 'image/gif' }), 'x.gif');
    await expectError(fetch(up(), { method: 'POST', body: form }), 415, 'unsupported_media_type');
  });

  it('429 with Retry-After once the running slot and the queue are taken; queued requests still finish', async () => {
    const busy = await startApp({ SRQ_MAX_CONCURRENT: '1', SRQ_MAX_QUEUE: '1', SRQ_TILE_SIZE: '64' });
    const url = `${busy.url}/v1/upscale?model=esrgan-slim-x2`;
    const first = heldPost(url, crop.png);
    await waitForQueue(busy.url, 1, 0);
    const second = heldPost(url, crop.png);
    await waitForQueue(busy.url, 1, 1);
    const third = await fetch(url, { method: 'POST', body: crop.png as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/png' } });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await expectError(third, 429, 'too_many_requests');
    const [a, b] = await Promise.all([first.finish(), second.finish()]);
    expect([a.status, b.status]).toEqual([200, 200]);
  });

  it('answers a large upload it refuses with 429 (read to the end, not a reset connection)', async () => {
    const busy = await startApp({ SRQ_MAX_CONCURRENT: '1', SRQ_MAX_QUEUE: '0' });
    const first = heldPost(`${busy.url}/v1/upscale?model=esrgan-slim-x2`, crop.png);
    await waitForQueue(busy.url, 1, 0);
    const big = photoCrop('astronaut.png', 500, 500).png; // ~0.6 MB, still arriving when the answer is ready
    await expectError(send(`${busy.url}/v1/upscale`, big), 429, 'too_many_requests');
    expect((await first.finish()).status).toBe(200);
  });

  it('keeps answering other requests while an upscale runs (the event loop turns between tiles)', async () => {
    const order: string[] = [];
    const long = send(`${server.url}/v1/upscale?model=esrgan-slim-x2`, photoCrop('astronaut.png', 300, 300).png).then(async (r) => {
      await r.arrayBuffer();
      order.push(`upscale ${r.status}`);
    });
    await waitForQueue(server.url, 1, 0); // answered mid-upscale already
    const health = await fetch(`${server.url}/healthz`);
    order.push(`healthz ${health.status}`);
    await long;
    expect(order).toEqual(['healthz 200', 'upscale 200']);
  });

  it('503 when the deadline passes between tiles', async () => {
    const slow = await startApp({ SRQ_DEADLINE_MS: '1' });
    const held = heldPost(`${slow.url}/v1/upscale`, crop.png);
    await new Promise((r) => setTimeout(r, 20)); // the 1 ms deadline passes while the body is held
    const res = await held.finish();
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body.toString()).error).toMatchObject({ code: 'deadline_exceeded', message: expect.stringMatching(/^deadline passed after 0 of 4 tiles; .* \(SRQ_DEADLINE_MS\)$/) });
  });

  it('503 (healthz and upscale) when a model file does not match the manifest\'s SHA-256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srq-edge-manifest-'));
    const entry = embeddedEntry('esrgan-slim-x2', 'int8');
    const bytes = readFileSync(entry.path);
    bytes[bytes.length - 1]! ^= 1; // one flipped bit
    writeFileSync(join(dir, entry.file), bytes);
    const { path: _path, ...listed } = entry;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: 1, models: [listed] }));
    const bad = await startApp({ SRQ_MANIFEST: join(dir, 'manifest.json') }, { start: false });
    await bad.engine.start().catch(() => undefined);
    expect(await expectError(fetch(`${bad.url}/healthz`), 503, 'model_unavailable')).toMatch(/^esrgan-slim-x2\.int8\.onnx has SHA-256 [0-9a-f]{64} but the manifest says /);
    await expectError(send(`${bad.url}/v1/upscale`, crop.png), 503, 'model_unavailable');
  });

  it('serves from a manifest published at a URL (files fetched next to it, checked) and 503s on a missing file', async () => {
    const entry = embeddedEntry('esrgan-slim-x2', 'int8');
    const { path: _path, ...listed } = entry;
    const files: Record<string, Buffer | string> = {
      '/v3/manifest.json': JSON.stringify({ version: 1, models: [listed, { ...listed, name: 'gone', file: 'gone.onnx' }] }),
      [`/v3/${entry.file}`]: readFileSync(entry.path),
    };
    const host = createHttpServer((req, res) => {
      const body = files[req.url ?? ''];
      res.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    try {
      const manifest = `http://127.0.0.1:${(host.address() as { port: number }).port}/v3/manifest.json`;
      const remote = await startApp({ SRQ_MANIFEST: manifest });
      expect(await (await fetch(`${remote.url}/v1/models`)).json()).toMatchObject({ manifest, defaultModel: 'esrgan-slim-x2' });
      const ok = await postImage(`${remote.url}/v1/upscale`, crop.png);
      expect(ok.res.status).toBe(200);
      expect(ok.res.headers.get('x-srq-model-sha256')).toBe(entry.sha256);
      expect(await expectError(send(`${remote.url}/v1/upscale?model=gone`, crop.png), 503, 'model_unavailable')).toMatch(/gone\.onnx gave HTTP 404; check SRQ_MANIFEST$/);
    } finally {
      host.close();
    }
  });

  it('401 without a valid bearer token, the same answer whatever was wrong', async () => {
    const locked = await startApp({ SRQ_API_KEYS: 'k-one,k-two' });
    const messages = new Set<string>();
    for (const auth of [undefined, 'Bearer nope', 'Bearer k-one2', 'Basic k-one', 'Bearer ']) {
      const res = await fetch(`${locked.url}/v1/models`, { headers: auth ? { authorization: auth } : {} });
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="srq"');
      messages.add(await expectError(res, 401, 'unauthorized'));
    }
    expect(messages.size).toBe(1);
    await expectError(send(`${locked.url}/v1/upscale`, crop.png), 401, 'unauthorized');
    expect((await fetch(`${locked.url}/v1/models`, { headers: { authorization: 'Bearer k-two' } })).status).toBe(200);
    expect((await fetch(`${locked.url}/healthz`)).status).toBe(200); // probes need no key
  });

  it('CORS only for the configured origins, exposing the result headers', async () => {
    const open = await startApp({ SRQ_CORS_ORIGINS: 'https://app.example' });
    const pre = await fetch(`${open.url}/v1/upscale`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const res = await postImage(`${open.url}/v1/upscale?model=esrgan-slim-x2`, crop.png, 'image/png', { origin: 'https://app.example' });
    expect(res.res.headers.get('access-control-expose-headers')).toContain('x-srq-model');
    const other = await fetch(`${open.url}/v1/models`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${server.url}/v1/models`, { headers: { origin: 'https://app.example' } })).headers.get('access-control-allow-origin')).toBeNull();
  });
});
