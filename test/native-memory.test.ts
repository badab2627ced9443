// onnxruntime-node's memory per window pixel (src-core/runtime/native-memory.node.ts), measured on a real INT8 file
// in child processes as the edge's native engine runs it, and checked where it matters: a window sized from it stays
// within the budget when it runs.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { firstSide, measureNativeMemory, nextSide, type NativeMeasureLimits } from '../src-core/runtime/native-memory.node.ts';
import { windowPixelsFor } from '../src-core/runtime/wasm-memory.ts';
import { parseManifest } from '../src-edge/manifest.ts';

// The child process runs the compiled task (npm test builds first).
const task = new URL('../build/src-core/runtime/native-memory-task.node.js', import.meta.url);
const MB = 1024 * 1024;
const manifest = parseManifest(JSON.parse(readFileSync('src-edge/models/manifest.json', 'utf8')), 'embedded');
const x8 = manifest.models.find((m) => m.name === 'esrgan-slim-x8' && m.variant === 'int8')!;

describe('native memory', () => {
  it('measures esrgan-slim-x8 INT8 as the manifest has it (4376 B a window px, 2.3× its wasm measure), and a 512 MB window of it takes about 512 MB', async () => {
    const bytes = readFileSync(`src-edge/models/${x8.file}`);
    const measured = await measureNativeMemory(bytes, { task });
    expect(measured.baseBytes / MB).toBeGreaterThan(20);
    expect(measured.baseBytes / MB).toBeLessThan(45);
    expect(measured.bytesPerPixel / x8.nativeMemory!.bytesPerPixel).toBeGreaterThan(0.9);
    expect(measured.bytesPerPixel / x8.nativeMemory!.bytesPerPixel).toBeLessThan(1.1);
    expect(measured.bytesPerPixel / x8.memory!.bytesPerPixel).toBeGreaterThan(2);
    // The window the edge runs with SRQ_MEMORY_MB=512 (339²), three times in a fresh process: measured 533 MB (the
    // arena's steps make the line a bound only near the sides measured). Sized from the wasm measure (520², before its 3% margin): 1133 MB.
    const side = Math.floor(Math.sqrt(windowPixelsFor(measured, 512 * MB)));
    const out = execFileSync(process.execPath, [fileURLToPath(task), `src-edge/models/${x8.file}`, String(side)], { encoding: 'utf8' });
    const { before, peaks } = JSON.parse(out) as { before: number; peaks: [number] };
    expect((peaks[0] - before) / MB).toBeLessThan(560);
    expect((peaks[0] - before) / MB).toBeGreaterThan(450);
  }, 120_000);

  it('names the window and ORT\'s reason in one line when the file does not load', async () => {
    await expect(measureNativeMemory(new Uint8Array([1, 2, 3]), { task })).rejects.toThrow(/^measuring onnxruntime-node's memory at 256² px: .*protobuf parsing failed/);
  });

  it('measures within limits: a side the memory left cannot hold is not run, and the smaller sides over-state a pixel', async () => {
    const bytes = readFileSync(`src-edge/models/${x8.file}`);
    // 256² took ≈ 30 MB + 4376 B a px over the child's Node (≈ 317 MB); 384² would take ≈ 700 MB: over 600.
    const limits: NativeMeasureLimits = { bytes: 600 * MB, seconds: 60, guess: { memory: { baseBytes: 64 * MB, bytesPerPixel: 2 * x8.memory!.bytesPerPixel }, secondsPerPixel: 1e-6 } };
    const measured = await measureNativeMemory(bytes, { task, limits });
    expect(measured.bytesPerPixel).toBeGreaterThanOrEqual(x8.nativeMemory!.bytesPerPixel * 0.95);
    expect(measured.bytesPerPixel).toBeLessThan(x8.nativeMemory!.bytesPerPixel * 1.15);
  }, 60_000);

  it('stops a child that runs past the time the measure may take, whatever the guess said', async () => {
    const bytes = readFileSync(`src-edge/models/${x8.file}`);
    // The guess (1e-9 s a px) says 256² takes no time; Node and ORT's load alone take longer than 0.3 s.
    const limits: NativeMeasureLimits = { bytes: 600 * MB, seconds: 0.3, guess: { memory: { baseBytes: 64 * MB, bytesPerPixel: 2 * x8.memory!.bytesPerPixel }, secondsPerPixel: 1e-9 } };
    const started = performance.now();
    await expect(measureNativeMemory(bytes, { task, limits })).rejects.toThrow(/^measuring onnxruntime-node's memory at 256² px took over the 0.3 s the measure may take \(stopped\)$/);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('a child process\'s peak memory', () => {
  it('is its own, not its parent\'s: getrusage\'s maxRSS starts a child at the parent\'s RSS, /proc\'s VmHWM does not', () => {
    const held = Buffer.alloc(600 * MB, 1); // the parent holds 600 MB when it spawns the child
    const script = `import('${new URL('../build/src-core/runtime/peak-rss.node.js', import.meta.url).href}').then((m) => console.log(JSON.stringify([m.peakResidentBytes(), process.resourceUsage().maxRSS * 1024])))`;
    const [peak, maxRSS] = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as [number, number];
    expect(held[held.length - 1]).toBe(1);
    expect(maxRSS / MB).toBeGreaterThan(600);
    expect(peak / MB).toBeLessThan(150);
  });
});

describe('the sides a measure within limits runs', () => {
  const MB_ = 2 ** 20;
  const limits = (secondsPerPixel: number, bytes = 4000 * MB_): NativeMeasureLimits => ({ bytes, seconds: 60, guess: { memory: { baseBytes: 64 * MB_, bytesPerPixel: 2400 }, secondsPerPixel } });
  const side = (s: number, seconds: number, perPixel = 2000) => ({ side: s, before: 50 * MB_, loaded: 80 * MB_, peak: 80 * MB_ + perPixel * s * s, seconds });

  it('starts at 256² when its guess fits, smaller for a slow model, 128² alone for a slower one, and refuses when even that would not fit', () => {
    // esrgan-slim at 1 thread: ≈ 2 µs a px. Real-ESRGAN x4plus: ≈ 230 µs (3.5 · 256² px would take 53 s).
    expect(firstSide(limits(2e-6))).toBe(256);
    expect(firstSide(limits(100e-6))).toBe(192);
    expect(firstSide(limits(230e-6))).toBe(128);
    // 128² takes 34 s: no time for three sides, but for one.
    expect(firstSide(limits(600e-6))).toBe(128);
    expect(nextSide([side(128, 34)], limits(600e-6))).toBeUndefined();
    expect(() => firstSide(limits(2e-3))).toThrow(/^even 128² px windows would take ≈ 102 MB and ≈ 115 s, over the 4000 MB and 60 s the measure may take$/);
    expect(() => firstSide(limits(2e-6, 80 * MB_))).toThrow(/over the 80 MB and 60 s/);
  });

  it('goes up while the sides measured predict the next fits, three sides at most', () => {
    expect(nextSide([side(256, 1)], limits(2e-6))).toBe(384);
    expect(nextSide([side(256, 1), side(384, 2), side(512, 4)], limits(2e-6))).toBeUndefined();
    // 13 s at 128² predicts 29 s at 192² (42 s in all) and 52 s at 256².
    expect(nextSide([side(128, 13)], limits(230e-6))).toBe(192);
    expect(nextSide([side(128, 13), side(192, 29)], limits(230e-6))).toBeUndefined();
    // 384² would take (50 MB over the child's Node + 2000 B a px) ≈ 358 MB: over 300.
    expect(nextSide([side(256, 1)], limits(2e-6, 300 * MB_))).toBeUndefined();
  });
});
