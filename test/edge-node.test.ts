// The Node entry as deployed (`npm start`: compiled, @hono/node-server, native onnxruntime-node) started as a
// real process on a free loopback port: a real photo through HTTP equals the library's output (onnxruntime-web's
// wasm) for the same model and tile settings, and SIGTERM stops it cleanly.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../src-core/image/index.ts';
import { libraryUpscale, photoCrop, postImage, repoRoot, startServer, type RunningServer } from './fixtures/edge/harness.ts';

let server: RunningServer | undefined;

beforeAll(async () => {
  server = await startServer(process.execPath, ['build/src-edge/entry.node.js'], { env: { PORT: '0', SRQ_TILE_SIZE: '64' } });
});

afterAll(async () => {
  await server?.stop();
});

describe('Node entry (real process)', () => {
  it('upscales a real photo to the library\'s exact pixels', async () => {
    const crop = photoCrop('coffee.png', 120, 90);
    const { res, bytes } = await postImage(`${server!.url}/v1/upscale`, crop.png);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-srq-variant')).toBe('int8');
    const models = await (await fetch(`${server!.url}/v1/models`)).json();
    // The server runs native ORT with threads, the library here one wasm thread: ORT's int8 kernels give the same bytes.
    expect(models.backend).toMatch(/^onnxruntime-node 1\.\d+\.\d+ \(native, \d+ threads?\)$/);
    expect(models.cpuEngine).toEqual({ kind: 'native', reason: expect.stringMatching(/^native onnxruntime-node 1\.\d+\.\d+ loaded$/) });
    const expected = await libraryUpscale('esrgan-slim-x4', 'int8', crop.image, 64);
    const out = decodeImage(bytes);
    expect([out.width, out.height]).toEqual([480, 360]);
    expect(Buffer.from(out.data).equals(Buffer.from(expected.data))).toBe(true);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const ended = await server!.stop();
    server = undefined;
    expect(ended).toEqual({ code: 0, signal: null });
  });

  it('prints one line and exits 2 on a bad setting', () => {
    let stderr = '';
    let code = 0;
    try {
      execFileSync(process.execPath, ['build/src-edge/entry.node.js'], { cwd: repoRoot, env: { ...process.env, SRQ_MAX_QUEUE: '-1' }, stdio: 'pipe' });
    } catch (e) {
      const err = e as { status: number; stderr: Buffer };
      code = err.status;
      stderr = err.stderr.toString();
    }
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('srq-edge: SRQ_MAX_QUEUE=-1 is not an integer >= 0; fix or unset it');
  });
});
