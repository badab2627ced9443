// The Workers entry on the real workerd (`wrangler dev`, no account), started where it cannot reach the
// network: in a fresh loopback-only network namespace when this machine allows one (root: `unshare -n`),
// bridged to a local port. It must start offline, load ORT's wasm as a precompiled module and upscale a
// real photo to the library's exact pixels. Also: the deployed bundle's size (`wrangler deploy --dry-run`).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeJpeg } from '../src-core/image/index.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import { windowSizing } from '../src-edge/windows.ts';
import { freePort, libraryUpscale, photoCrop, postImage, repoRoot, startServer, type RunningServer } from './fixtures/edge/harness.ts';
import { requiresSystemPackage } from './helpers/system-packages.ts';

const wrangler = join(repoRoot, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
// No telemetry, no Request.cf download, no account: what a CI box without network needs.
const offlineEnv = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_HIDE_BANNER: 'true', NO_COLOR: '1' };
// A fresh network namespace with loopback up needs iproute2's ip, util-linux's unshare and root. Without
// them wrangler runs in this machine's network, with telemetry and cf fetch off; the first test's name says which.
const iproute2 = requiresSystemPackage('iproute2', ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'], 'the offline (network namespace) start of wrangler dev');
const isolated = iproute2.available && spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up']).status === 0;
if (iproute2.available && !isolated) {
  const why = process.getuid?.() === 0 ? '`unshare -n` failed here' : 'needs root (a fresh network namespace); this runs as a user';
  console.warn(`skipped: the offline (network namespace) start of wrangler dev ${why}; wrangler runs with telemetry and cf fetch off instead`);
}

let server: RunningServer | undefined;
let bridge: Server | undefined;
const work = mkdtempSync(join(tmpdir(), 'srq-edge-workers-'));

beforeAll(async () => {
  const port = await freePort();
  const devArgs = (p: number) => [wrangler, 'dev', '--ip', '127.0.0.1', '--port', String(p), '--inspector-port', '0', '--persist-to', join(work, 'state'), '--show-interactive-dev-session=false'];
  if (isolated) {
    // Outside: a local port piped to the bridge's Unix socket; inside: wrangler on its own loopback.
    const socket = join(work, 'bridge.sock');
    bridge = createServer((client) => {
      const upstream = createConnection(socket);
      client.pipe(upstream).pipe(client);
      upstream.on('error', () => client.resetAndDestroy()); // RST: the caller sees a refused connection at once
      client.on('error', () => upstream.destroy());
    }).listen(port, '127.0.0.1');
    const inner = [process.execPath, 'test/fixtures/edge/netns-bridge.mjs', socket, '8787', process.execPath, ...devArgs(8787)];
    server = await startServer('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', ...inner], { port, env: offlineEnv, readyTimeoutMs: 180_000 });
  } else {
    server = await startServer(process.execPath, devArgs(port), { port, env: offlineEnv, readyTimeoutMs: 180_000 });
  }
}, 200_000);

afterAll(async () => {
  await server?.stop();
  bridge?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('Workers entry on workerd (wrangler dev)', () => {
  it(`starts ${isolated ? 'with no network at all' : 'with telemetry and cf fetch off'} and serves INT8 on one thread`, async () => {
    const models = await (await fetch(`${server!.url}/v1/models`)).json();
    expect(models).toMatchObject({ runtime: 'workerd', serving: { label: 'cpu-int8', reason: 'CPU host (Workers have no GPU): INT8 on the CPU' } });
    expect(models.backend).toMatch(/^onnxruntime-web 1\.30\.0 \(wasm, 1 thread\)$/);
    // Windows sized from Workers' default budget (80 MB of wasm memory) and the manifest's measure: 67893 px, a whole
    // 256² photo (60186 px, two strips, when the measure was the memory's size after each run; 36463 before the file
    // computed its upsampling conv in row strips).
    const slim = JSON.parse(readFileSync('src-edge/models/manifest.json', 'utf8')).models.find((m: { file: string }) => m.file === 'esrgan-slim-x4.int8.onnx');
    const sizing = windowSizing(slim, 'cpu', undefined, 80, 'wasm');
    const pixels = sizing.kind === 'budget' ? sizing.maxPixels : 0;
    expect(pixels).toBeGreaterThan(256 * 256);
    const ready = `srq-edge: ready on workerd: esrgan-slim-x4 (cpu-int8), windows up to ${pixels} px (80 MB of wasm memory)`;
    expect(await server!.outputContaining(ready)).toContain(ready);
  });

  it('starts its wasm memory at the 80 MB budget, and a whole 256² photo runs in one window without growing it, exactly', async () => {
    const before = await (await fetch(`${server!.url}/v1/models`)).json();
    expect(before.wasmMemoryMB).toBe(80);
    const crop = photoCrop('astronaut.png', 256, 256);
    const { res, bytes } = await postImage(`${server!.url}/v1/upscale`, crop.png);
    expect(res.status).toBe(200);
    expect([res.headers.get('x-srq-tiles'), res.headers.get('x-srq-window')]).toEqual(['1', '256x256']);
    const expected = await libraryUpscale('esrgan-slim-x4', 'int8', crop.image, 256);
    expect(Buffer.from(decodeImage(bytes).data).equals(Buffer.from(expected.data))).toBe(true);
    // Left to grow on its own, emscripten took it to 86 MB for this window (its run reaches 75.6 MB).
    const after = await (await fetch(`${server!.url}/v1/models`)).json();
    expect(after.wasmMemoryMB).toBe(80);
  });

  it('upscales a real photo to the library\'s exact pixels, in one window (it fits the memory budget)', async () => {
    const crop = photoCrop('chelsea.png', 100, 72);
    const { res, bytes } = await postImage(`${server!.url}/v1/upscale`, crop.png);
    expect(res.status).toBe(200);
    expect([res.headers.get('x-srq-tiles'), res.headers.get('x-srq-window')]).toEqual(['1', '100x72']);
    const expected = await libraryUpscale('esrgan-slim-x4', 'int8', crop.image, 100);
    const out = decodeImage(bytes);
    expect([out.width, out.height]).toEqual([400, 288]);
    expect(Buffer.from(out.data).equals(Buffer.from(expected.data))).toBe(true);
  });

  it('answers a JPEG with a JPEG from the MozJPEG wasm (imported precompiled, as ORT\'s is): the bytes Node makes', async () => {
    const crop = photoCrop('chelsea.png', 100, 72);
    const jpeg = await encodeJpeg(crop.image, loadJpegWasm, 95);
    const { res, bytes } = await postImage(`${server!.url}/v1/upscale?quality=85`, jpeg, 'image/jpeg');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const expected = await libraryUpscale('esrgan-slim-x4', 'int8', decodeImage(jpeg), 100);
    expect(Buffer.from(bytes).equals(Buffer.from(await encodeJpeg(expected, loadJpegWasm, 85)))).toBe(true);
  });

  it('answers bad requests with the same JSON errors as elsewhere', async () => {
    const wrongType = await postImage(`${server!.url}/v1/upscale`, new Uint8Array([1, 2, 3]), 'text/plain');
    expect(wrongType.res.status).toBe(415);
    expect(wrongType.json().error.code).toBe('unsupported_media_type');
    const unknown = await postImage(`${server!.url}/v1/upscale?model=nope`, photoCrop('chelsea.png', 8, 8).png);
    expect(unknown.res.status).toBe(400);
    expect(unknown.json().error.code).toBe('unknown_model');
  });
});

describe('the Workers adaptation and bundle', () => {
  it('is pinned to the installed onnxruntime-web', () => {
    const installed = JSON.parse(readFileSync(join(repoRoot, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version;
    const src = readFileSync(join(repoRoot, 'src-edge/ort-workers.ts'), 'utf8');
    expect(/VERIFIED_ORT_WEB = '([^']+)'/.exec(src)?.[1]).toBe(installed);
  });

  it('bundles (wrangler deploy --dry-run) within the Workers size limit (10 MB gzipped)', () => {
    const out = join(work, 'dist');
    execFileSync(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', out], { cwd: repoRoot, env: { ...process.env, ...offlineEnv }, stdio: 'pipe' });
    const files = readdirSync(out).filter((f) => !f.endsWith('.map'));
    const raw = files.reduce((n, f) => n + statSync(join(out, f)).size, 0);
    const gzipped = files.reduce((n, f) => n + gzipSync(readFileSync(join(out, f))).length, 0);
    console.log(`Workers bundle: ${files.length} files, ${(raw / 1e6).toFixed(2)} MB raw, ${(gzipped / 1e6).toFixed(2)} MB gzipped`);
    expect(files.some((f) => f.endsWith('.wasm'))).toBe(true);
    expect(gzipped).toBeLessThan(10 * 1024 * 1024);
  });
});
