// The demo page in a real browser: Debian's Chromium driven by playwright-core (no browser download) picks a
// photo, uploads it, waits for the result and checks the before/after slider shows both images.
import { serve } from '@hono/node-server';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeImage } from '../src-core/image/index.ts';
import { createEdgeApp } from '../src-edge/app.ts';
import { nodeRuntime } from '../src-edge/runtime.node.ts';
import { photoCrop } from './fixtures/edge/harness.ts';
import { requiresSystemPackage } from './helpers/system-packages.ts';

const chromiumPkg = requiresSystemPackage('chromium', '/usr/bin/chromium', 'the demo page test');

let server: Server | undefined;
let url = '';
let browser: BrowserContext | undefined;
const work = mkdtempSync(join(tmpdir(), 'srq-edge-browser-'));

beforeAll(async () => {
  if (!chromiumPkg.available) return;
  const { app, engine } = createEdgeApp(nodeRuntime(), { SRQ_TILE_SIZE: '64' });
  await engine.start();
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      url = `http://127.0.0.1:${info.port}/`;
      resolve();
    }) as Server;
  });
  browser = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: chromiumPkg.path!,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

chromiumPkg.describe('demo page in Chromium', () => {
  it('uploads a photo, shows before and after under the slider, and offers the download', async () => {
    const crop = photoCrop('astronaut.png', 90, 70);
    const file = join(work, 'astronaut.png');
    writeFileSync(file, crop.png);
    const page = await browser!.newPage();
    await page.goto(url);
    await page.waitForSelector('#model option[value="esrgan-slim-x4"]', { state: 'attached' });
    expect(await page.textContent('#serving')).toMatch(/^Serving cpu-int8 on node: /);

    await page.setInputFiles('#file', file);
    await page.click('#go');
    await page.waitForSelector('#result[data-state="done"]', { timeout: 90_000 });

    const sizes = await page.evaluate(() => {
      const img = (id: string) => document.getElementById(id) as HTMLImageElement;
      return { after: [img('after').naturalWidth, img('after').naturalHeight], before: [img('before').naturalWidth, img('before').naturalHeight] };
    });
    expect(sizes).toEqual({ after: [360, 280], before: [90, 70] });
    expect(await page.textContent('#status')).toMatch(/^Done in \d+\.\d s\.$/);
    expect(await page.getAttribute('#download', 'download')).toBe('astronaut-x4.png');
    expect(await page.getAttribute('#download', 'href')).toMatch(/^blob:/);
    expect(await page.textContent('#meta')).toMatch(/esrgan-slim-x4 · cpu-int8 · 4 tiles · queue;dur=/);

    // Slide to 30 %: the before image is clipped there, the after image shows on the right.
    await page.fill('#slider', '30');
    await page.dispatchEvent('#slider', 'input');
    expect(await page.evaluate(() => document.getElementById('compare')!.style.getPropertyValue('--pos'))).toBe('30%');
    const shot = decodeImage(new Uint8Array(await page.locator('#compare').screenshot()));
    expect(shot.width).toBeGreaterThanOrEqual(350);
    // Not blank: real photo content on both sides of the handle.
    for (const [x0, x1] of [[0, Math.floor(shot.width * 0.25)], [Math.floor(shot.width * 0.4), shot.width]]) {
      const values: number[] = [];
      for (let y = 0; y < shot.height; y += 3) for (let x = x0; x < x1; x += 3) values.push(shot.data[(y * shot.width + x) * shot.channels]!);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
      expect(sd).toBeGreaterThan(10);
    }
    await page.close();
  });

  it('shows the API\'s one-line error for a file that is not an image', async () => {
    const file = join(work, 'notes.png');
    writeFileSync(file, 'not an image at all');
    const page = await browser!.newPage();
    await page.goto(url);
    await page.waitForSelector('#model option', { state: 'attached' });
    await page.setInputFiles('#file', file);
    await page.click('#go');
    await page.waitForSelector('#status.error');
    expect(await page.textContent('#status')).toMatch(/^image format not recognised \(first bytes: 6e 6f 74 20/);
    await page.close();
  });
});
