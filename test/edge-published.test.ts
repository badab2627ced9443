// End to end, as a stranger deploys srq: the folder the Action's job publishes (srq run on a third-party model
// with no scale given: a waifu2x-style model that loses a 14 px border), hosted at a URL, served by the edge worker
// with SRQ_MANIFEST pointing at it. The image that comes back over HTTP is the library's own output for that file.
import { serve } from '@hono/node-server';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../src-core/image/index.ts';
import type { ModelManifest } from '../src-core/manifest.ts';
import { createWebRunner } from '../src-core/runtime/ort-web.ts';
import { upscaleImage } from '../src-core/tiling/upscale.ts';
import { createEdgeApp } from '../src-edge/app.ts';
import { nodeRuntime } from '../src-edge/runtime.node.ts';
import { photoCrop, postImage } from './fixtures/edge/harness.ts';
import { srq } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-published-'));
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

describe('the edge serving what the Action published', () => {
  it('serves a waifu2x-style model from the published folder at a URL, with its border, equal to the library', async () => {
    mkdirSync(join(work, 'models'));
    copyFileSync('test/fixtures/corpus/waifu2x-upconv7-x2.onnx', join(work, 'models', 'waifu2x.onnx'));
    const run = srq(['run', 'models/*.onnx', '--calib', join(process.cwd(), 'images/coffee.png'), '--eval', join(process.cwd(), 'images/chelsea.png'), '--calib-method', 'minmax', '--max-drop', '1', '--out', 'published'], { cwd: work });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const folder = join(work, 'published');
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as ModelManifest;
    const int8 = manifest.models.find((m) => m.variant === 'int8')!;
    expect([int8.scale, int8.border, int8.overlap]).toEqual([2, 14, 7]);

    // The published folder as static files: any web host (release assets, R2, Pages) serves it like this.
    const host = createServer((req, res) => {
      try {
        res.writeHead(200).end(readFileSync(join(folder, (req.url ?? '/').replace(/^\/srq\//, ''))));
      } catch {
        res.writeHead(404).end();
      }
    });
    const hostUrl = await listen(host);
    closers.push(() => new Promise((r) => host.close(() => r())));

    const { app, engine } = createEdgeApp(nodeRuntime(), { SRQ_THREADS: '1', SRQ_TILE_SIZE: '48', SRQ_MANIFEST: `${hostUrl}/srq/manifest.json` });
    const url = await new Promise<string>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(`http://127.0.0.1:${info.port}`));
      closers.push(() => new Promise((r) => { (s as Server).closeAllConnections(); s.close(() => r()); }));
    });
    await engine.start();

    const crop = photoCrop('rocket.jpg', 90, 70);
    const { res, bytes } = await postImage(`${url}/v1/upscale`, crop.png);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-srq-model')).toBe('waifu2x');
    const served = decodeImage(bytes);
    expect([served.width, served.height]).toEqual([180, 140]);

    // The library on the same published file and tile size gives the same pixels.
    const runner = await createWebRunner(new Uint8Array(readFileSync(join(folder, int8.file))), { threads: 1 });
    const expected = await upscaleImage(runner, crop.image, { scale: 2, border: 14, overlap: 7, tileSize: 48 });
    await runner.release();
    let max = 0;
    for (let i = 0; i < expected.data.length; i++) max = Math.max(max, Math.abs(expected.data[i]! - served.data[i]!));
    expect(max).toBe(0);
  });
});
