// Window sizing from a memory budget (#12): the measured wasm memory of a real INT8 file (fresh onnxruntime-web
// instances), the window planner's arithmetic, and the edge's choice per served file and per image.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { createWebRunner, webMemoryBytes } from '../src-core/runtime/ort-web.ts';
import { atLeast, windowPixelsFor } from '../src-core/runtime/wasm-memory.ts';
import { planTiles } from '../src-core/tiling/tile-plan.ts';
import { upscaleImage } from '../src-core/tiling/upscale.ts';
import { planWindow, WindowPlanError } from '../src-core/tiling/window-plan.ts';
import { parseManifest, type ManifestEntry } from '../src-edge/manifest.ts';
import { WASM_SLOPE_MARGIN, warmUpSide, windowFor, windowSizing, WindowBudgetError } from '../src-edge/windows.ts';
import { centreCrop, maxAbsDiff } from './fixtures/tiling/images.ts';

const MB = 1024 * 1024;
const manifest = parseManifest(JSON.parse(readFileSync('src-edge/models/manifest.json', 'utf8')), 'embedded');
const slim = manifest.models.find((m) => m.name === 'esrgan-slim-x4' && m.variant === 'int8')!;

describe('planWindow', () => {
  it('takes the whole image when it fits', () => {
    expect(planWindow(256, 256, 10, 65536)).toEqual({ width: 256, height: 256, windows: 1, overhead: 1 });
  });

  it('cuts full-width strips when a strip fits: 256² in 37 400 px costs 7.8% more pixels, not 2.25× as 128² tiles did', () => {
    const plan = planWindow(256, 256, 10, 37_400);
    expect(plan).toMatchObject({ width: 256, height: 138, windows: 2 });
    expect(plan.overhead).toBeCloseTo(1.078, 3);
    // What planTiles makes of it: two windows of that shape, cores covering the image.
    expect(planTiles(256, 256, plan, 10)).toHaveLength(2);
  });

  it('never exceeds the pixel cap and never does worse than the best square', () => {
    // The last two: images thinner than a window's context and core, along either side.
    for (const [w, h, c, cap] of [[512, 512, 10, 33_000], [1024, 768, 13, 250_000], [300, 451, 35, 40_000], [97, 1000, 10, 5_000], [20, 10_000, 10, 36_000], [10_000, 20, 10, 36_000]] as const) {
      const plan = planWindow(w, h, c, cap);
      expect(plan.width * plan.height).toBeLessThanOrEqual(cap);
      const side = Math.floor(Math.sqrt(cap));
      const square = planTiles(w, h, side, c).length * Math.min(side, w) * Math.min(side, h);
      expect(plan.windows * plan.width * plan.height).toBeLessThanOrEqual(square);
      expect(planTiles(w, h, plan, c)).toHaveLength(plan.windows);
    }
  });

  it('refuses a cap below one window of context and core, naming why', () => {
    expect(() => planWindow(512, 512, 35, 70 * 70)).toThrow(WindowPlanError);
    expect(() => planWindow(512, 512, 35, 70 * 70)).toThrow(/35 px of context/);
  });
});

describe('the measured wasm memory of the embedded INT8 files', () => {
  // The worker script is the compiled one (npm test builds first): a worker thread cannot load .ts.
  const task = new URL('../build/src-core/runtime/wasm-memory-task.node.js', import.meta.url);

  it('every CPU file carries one; measured again it is the same, and it predicts a fresh 384² session\'s peak within 0.5%', async () => {
    for (const e of manifest.models) expect(e.memory !== undefined).toBe(e.host === 'cpu');
    const { measureWasmMemory, wasmMemoryAt } = await import('../src-core/runtime/wasm-memory.node.ts');
    const bytes = readFileSync(`src-edge/models/${slim.file}`);
    expect(await measureWasmMemory(bytes, { task })).toEqual(slim.memory);
    // 384² is past the two measured sides (128², 256²): the line must still hold there (measured: exactly).
    const { bytes: at384 } = await wasmMemoryAt(bytes, 384, { task });
    const predicted = slim.memory!.baseBytes + slim.memory!.bytesPerPixel * 384 * 384;
    expect(Math.abs(predicted - at384) / at384).toBeLessThan(0.005);
  });
});

describe('windowSizing and windowFor', () => {
  it('sizes the slim ×4 windows from the budget: whole 512² photos in 512 MB, whole 256² photos in 80 MB (Workers)', () => {
    const node = windowSizing(slim, 'cpu', undefined, 512);
    expect(node.kind).toBe('budget');
    expect(windowFor(node, slim, 512, 512)).toEqual({ window: { width: 512, height: 512 } });
    // 80 MB: 67 893 px from the run's peak (1044 B a px, 3% margin on the slope: 69 930 without it); 60 186 px, two
    // strips of 256×138, from the memory's size after the run (1176 B a px, emscripten's growth step included).
    const workers = windowSizing(slim, 'cpu', undefined, 80);
    expect(workers).toMatchObject({ kind: 'budget', maxPixels: 67_893 });
    expect(windowFor(workers, slim, 256, 256)).toEqual({ window: { width: 256, height: 256 } });
    expect(warmUpSide(workers, 1 << 20) ** 2 * slim.memory!.bytesPerPixel + slim.memory!.baseBytes).toBeLessThanOrEqual(80 * MB);
  });

  it('starts onnxruntime-web\'s memory at the budget: a window the line fits runs in it without growing it, same pixels', async () => {
    // This file's first web runner, which starts the wasm runtime. slim ×4 on a 256² window reaches 75.6 MB; left to
    // grow on its own, emscripten took the memory to 86 MB.
    const bytes = readFileSync(`src-edge/models/${slim.file}`);
    const [web, native] = [await createWebRunner(bytes, { threads: 1, wasmMemoryBytes: 80 * MB }), await createNodeRunner(bytes, { threads: 1 })];
    try {
      expect(webMemoryBytes()).toBe(80 * MB);
      const img = centreCrop('astronaut.png', 256, 256);
      const whole = { scale: 4, overlap: slim.overlap, window: { width: 256, height: 256 } };
      const out = await upscaleImage(web, img, whole);
      expect(webMemoryBytes()).toBe(80 * MB);
      expect(maxAbsDiff(out, await upscaleImage(native, img, whole))).toBe(0);
    } finally {
      await web.release();
      await native.release();
    }
  });

  it('cuts a 256² photo into 2 strips and a 512² one into 6 windows for medium ×4 on Workers (3 and 8 before)', () => {
    // Row strips took medium's measure from 2227 to 1854 B a window px (sizes after the run; 1552 as the run's
    // peak): 2 strips of 256×146 (14% more pixels than the photo) where 3 of 256×110 (29% more) fitted before. Its
    // dense concat in strips, with the 3×3 convs that run while its inputs wait, took the peak to 1096: a 512² photo
    // in 6 windows of 274×195 (22% more pixels) where 8 of 274×155 (30% more) fitted.
    const medium = manifest.models.find((m) => m.name === 'esrgan-medium-x4' && m.variant === 'int8')!;
    expect(medium.memory!.bytesPerPixel).toBeLessThan(1150);
    const sizing = windowSizing(medium, 'cpu', undefined, 80);
    const w = windowFor(sizing, medium, 256, 256) as { window: { width: number; height: number } };
    expect(planTiles(256, 256, w.window, medium.overlap)).toHaveLength(2);
    const w512 = windowFor(sizing, medium, 512, 512) as typeof w;
    expect([planTiles(512, 512, w512.window, medium.overlap).length, w512.window]).toEqual([6, { width: 274, height: 195 }]);
    const before = (bytesPerPixel: number, baseBytes: number, side: number) => {
      const old = windowFor(windowSizing({ ...medium, memory: { baseBytes, bytesPerPixel } }, 'cpu', undefined, 80), medium, side, side) as typeof w;
      return planTiles(side, side, old.window, medium.overlap).length;
    };
    expect(before(2227, 12_866_901, 256)).toBe(3);
    expect(before(1552, 12_451_840, 512)).toBe(8);
  });

  it('sizes native windows from onnxruntime-node\'s measure, wasm ones from wasm\'s; without it, native takes wasm\'s', () => {
    const x8 = manifest.models.find((m) => m.name === 'esrgan-slim-x8' && m.variant === 'int8')!;
    const native = windowSizing(x8, 'cpu', undefined, 512, 'native');
    const wasm = windowSizing(x8, 'cpu', undefined, 512, 'wasm');
    expect(native).toMatchObject({ kind: 'budget', measure: 'native', maxPixels: windowPixelsFor(x8.nativeMemory!, 512 * MB) });
    const wasmLine = { ...x8.memory!, bytesPerPixel: x8.memory!.bytesPerPixel * WASM_SLOPE_MARGIN };
    expect(wasm).toMatchObject({ kind: 'budget', measure: 'wasm', maxPixels: windowPixelsFor(wasmLine, 512 * MB) });
    // slim ×8 natively: 4376 B a window px against wasm's 1939 (row strips lower only wasm's; 3% margin on it): 339²
    // against 512².
    expect(warmUpSide(native, 1 << 20)).toBe(339);
    expect(warmUpSide(wasm, 1 << 20)).toBe(512);
    const { nativeMemory: _, ...older } = x8;
    expect(windowSizing(older as ManifestEntry, 'cpu', undefined, 512, 'native')).toMatchObject({ measure: 'wasm', maxPixels: windowPixelsFor(wasmLine, 512 * MB) });
  });

  it('every embedded INT8 file carries both measures', () => {
    for (const entry of manifest.models.filter((m) => m.variant === 'int8')) {
      expect(entry.memory, entry.file).toBeDefined();
      expect(entry.nativeMemory, entry.file).toBeDefined();
    }
  });

  it('keeps a fixed square for SRQ_TILE_SIZE, GPU sessions and files without a measure', () => {
    expect(windowFor(windowSizing(slim, 'cpu', 64, 512), slim, 256, 256)).toEqual({ tileSize: 64 });
    // A square too small for the model's context is raised as the tiler raises it (10 px each side + an 8 px core).
    expect(windowFor(windowSizing(slim, 'cpu', 16, 512), slim, 256, 256)).toEqual({ tileSize: 28 });
    expect(windowSizing(slim, 'gpu', undefined, 512)).toMatchObject({ kind: 'fixed', tileSize: 128 });
    const { memory: _, ...unmeasured } = slim;
    expect(windowSizing(unmeasured as ManifestEntry, 'cpu', undefined, 512)).toMatchObject({ kind: 'fixed', tileSize: 128 });
  });

  it('refuses a budget below the smallest window, with what it needs and the fix', () => {
    expect(() => windowSizing(slim, 'cpu', undefined, 11)).toThrow(WindowBudgetError);
    expect(() => windowSizing(slim, 'cpu', undefined, 11)).toThrow(/needs ≈ \d+ MB of wasm memory .* raise SRQ_MEMORY_MB or set SRQ_TILE_SIZE/);
  });

  it('a budget-sized window upscales exactly as the whole image (real photo, onnxruntime-web)', async () => {
    const runner = await createWebRunner(readFileSync(`src-edge/models/${slim.file}`), { threads: 1 });
    try {
      const img = centreCrop('astronaut.png', 160, 120);
      const whole = await upscaleImage(runner, img, { scale: 4, overlap: slim.overlap, tileSize: 160 });
      const sizing = { kind: 'budget' as const, maxPixels: 160 * 60, budgetMB: 0, measure: 'wasm' as const };
      const window = windowFor(sizing, slim, 160, 120);
      expect(window).toEqual({ window: { width: 67, height: 120 } }); // three columns: fewer pixels than three strips
      const strips = await upscaleImage(runner, img, { scale: 4, overlap: slim.overlap, ...window });
      expect(maxAbsDiff(strips, whole)).toBeLessThanOrEqual(1);
    } finally {
      await runner.release();
    }
  });
});

describe('a budget-sized window on a model that loses a border (waifu2x upconv_7, out = 2·in − 28)', () => {
  it('pads by the border as the tiler does, and its windows upscale exactly as the whole image', async () => {
    const entry: ManifestEntry = { name: 'waifu2x', scale: 2, border: 14, overlap: 7, variant: 'fp32', host: 'cpu', file: 'w.onnx', sha256: '0'.repeat(64), bytes: 1 };
    const sizing = { kind: 'budget' as const, maxPixels: 114 * 50, budgetMB: 0, measure: 'wasm' as const };
    // 100×80 photo + 7 px of repeated edge on each side = 114×94, in windows of at most 5 700 px.
    const window = windowFor(sizing, entry, 100, 80);
    // Full padded height (94 = 80 + 2·7) in three columns: fewer pixels than three full-width strips.
    expect(window).toEqual({ window: { width: 48, height: 94 } });
    const runner = await createWebRunner(readFileSync('test/fixtures/corpus/waifu2x-upconv7-x2.onnx'), { threads: 1 });
    try {
      const img = centreCrop('chelsea.png', 100, 80);
      const geometry = { scale: 2, border: 14, overlap: 7 };
      const whole = await upscaleImage(runner, img, { ...geometry, tileSize: 200 });
      const strips = await upscaleImage(runner, img, { ...geometry, ...window });
      expect([strips.width, strips.height]).toEqual([200, 160]);
      expect(maxAbsDiff(strips, whole)).toBeLessThanOrEqual(1);
    } finally {
      await runner.release();
    }
  });
});

describe('windowPixelsFor', () => {
  it('is the budget left after the base, per pixel; 0 when the base alone is over', () => {
    expect(windowPixelsFor({ baseBytes: 1000, bytesPerPixel: 10 }, 2000)).toBe(100);
    expect(windowPixelsFor({ baseBytes: 3000, bytesPerPixel: 10 }, 2000)).toBe(0);
  });
});

describe('atLeast (the size a wasm runtime\'s memory starts at)', () => {
  it('raises the initial pages to the bytes asked, never lowers them, and stays within the maximum', () => {
    const asked = { initial: 256, maximum: 65536, shared: true };
    expect(atLeast(asked, 80 * MB)).toEqual({ initial: 1280, maximum: 65536, shared: true });
    expect(atLeast(asked, 80 * MB + 1)).toMatchObject({ initial: 1281 });
    expect(atLeast(asked, 1 * MB)).toMatchObject({ initial: 256 });
    expect(atLeast({ initial: 256, maximum: 1000 }, 80 * MB)).toMatchObject({ initial: 1000 });
    expect(atLeast({ initial: 256 }, 0)).toEqual({ initial: 256 });
  });
});
