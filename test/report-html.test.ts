// The HTML validation report opened in a real browser (Debian chromium driven by playwright-core): it is one
// self-contained file whose inlined images decode and render, with the crops side by side and the table.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../src-core/image/decode.ts';
import { srq } from './helpers/cli.ts';
import { requiresSystemPackage } from './helpers/system-packages.ts';

const chromiumPkg = requiresSystemPackage('chromium', '/usr/bin/chromium', 'the HTML report in a browser');

const work = mkdtempSync(join(tmpdir(), 'srq-report-html-'));
const html = join(work, 'report.html');
const int8 = join(work, 'slim-x4-int8.onnx');

beforeAll(() => {
  const q = srq(['quantize', 'models/esrgan-slim-x4.onnx', '-o', int8, '--calib-tiles', '8']);
  expect(q.code, q.stderr).toBe(0);
  const r = srq(['validate', 'models/esrgan-slim-x4.onnx', int8, '--images', 'images/chelsea.png', '--images', 'images/rocket.jpg', '--max-drop', '0.001', '--html', html]);
  expect(r.code, r.stderr).toBe(1);
});

describe('HTML validation report', () => {
  it('is self-contained: every image is a data: URI, nothing is fetched', () => {
    const text = readFileSync(html, 'utf8');
    const sources = [...text.matchAll(/<img src="([^"]*)"/g)].map((m) => m[1]!);
    // Per image: ground truth, FP32, INT8, amplified difference.
    expect(sources).toHaveLength(2 * 4);
    for (const s of sources) expect(s).toMatch(/^data:image\/png;base64,/);
    expect(text).not.toMatch(/(href|src)="(https?:|\/\/)/);
  });
});

chromiumPkg.describe('HTML validation report in Chromium', () => {
  let browser: BrowserContext;

  beforeAll(async () => {
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'srq-chromium-')), {
      executablePath: chromiumPkg.path!,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('renders: images decoded, crops side by side, table and verdict shown, screenshot not blank', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
    const images = await page.evaluate(() => Array.from(document.images).map((i) => ({ w: i.naturalWidth, h: i.naturalHeight, top: i.getBoundingClientRect().top, alt: i.alt })));
    expect(images).toHaveLength(8);
    for (const i of images) expect(i.w).toBe(128);
    // The four crops of one image sit in one row.
    expect(new Set(images.slice(0, 4).map((i) => Math.round(i.top))).size).toBe(1);
    expect(images.slice(0, 4).map((i) => i.alt)).toEqual(['ground truth', 'esrgan-slim-x4.onnx (fp32)', 'slim-x4-int8.onnx (int8-static)', 'difference ×32: slim-x4-int8.onnx']);
    expect(await page.locator('.verdict.fail').innerText()).toMatch(/^gate failed: /);
    expect(await page.locator('table').first().innerText()).toMatch(/slim-x4-int8\.onnx\s+int8-static/);
    expect(await page.locator('h2').allInnerTexts()).toEqual(['chelsea.png', 'rocket.jpg']);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);

    // Non-blank: the page and the ground-truth crop as drawn show picture content, not one flat fill.
    const colours = (png: Uint8Array) => {
      const img = decodeImage(png);
      const seen = new Set<number>();
      for (let i = 0; i < img.data.length; i += img.channels) seen.add((img.data[i]! << 16) | (img.data[i + 1]! << 8) | img.data[i + 2]!);
      return seen.size;
    };
    expect(colours(await page.screenshot())).toBeGreaterThan(2000);
    expect(colours(await page.locator('figure img').first().screenshot())).toBeGreaterThan(1000);
    await page.close();
  });
});

describe('portability', () => {
  it('validation and report code imports no Node built-ins (the Action and the edge can use it)', async () => {
    const { readdirSync } = await import('node:fs');
    const offenders: string[] = [];
    for (const dir of ['validate', 'report']) {
      const base = new URL(`../src-core/${dir}/`, import.meta.url);
      for (const f of readdirSync(base)) {
        if (!f.endsWith('.ts') || f.endsWith('.node.ts')) continue;
        const src = readFileSync(new URL(f, base), 'utf8');
        if (/from\s+'node:|from\s+'(fs|path|os|url|child_process|worker_threads)'|\bBuffer\.|onnxruntime-node|process\./.test(src)) offenders.push(`${dir}/${f}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
