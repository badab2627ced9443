// How big the model input windows are on this host. Memory, not a constant, decides: a file whose memory the manifest
// carries (measured per window pixel: onnxruntime-web's in `memory`, src-core/runtime/wasm-memory.ts, and
// onnxruntime-node's in `nativeMemory`, native-memory.node.ts) gets the largest window the runtime's budget holds on
// the engine that runs it, and each image the window shape that computes the fewest pixels within it: the whole
// image when it fits (no recomputed context at all). SRQ_TILE_SIZE fixes a square window instead; files without a
// measure, and GPU sessions, keep the 128 px default. A native engine serving a file with only the wasm measure (a
// manifest from an older srq) sizes from that one, which can be off either way (0.7–2.2× on the embedded files).
import { windowPixelsFor } from '../src-core/runtime/wasm-memory.ts';
import { planWindow } from '../src-core/tiling/window-plan.ts';
import { DEFAULT_TILE_SIZE, MIN_TILE_CORE, tileContext, tileSizeFor } from '../src-core/tiling/upscale.ts';
import type { ManifestEntry } from './manifest.ts';

export type WindowSizing =
  | { kind: 'fixed'; tileSize: number; why: string }
  | { kind: 'budget'; maxPixels: number; budgetMB: number; measure: 'native' | 'wasm' };

export class WindowBudgetError extends Error {
  override name = 'WindowBudgetError';
}

const MB = 1024 * 1024;

/**
 * The wasm line's slope is raised by this much before sizing windows. The line is fit on two windows (128² and 256²
 * on the embedded files) and third-party models' peaks run up to 1.5% above it farther out (Real-ESRGAN x4fast 1.4%
 * at 640², waifu2x upconv_7 1.5% at 384²); a run that passes the memory the edge started with makes emscripten grow it
 * by a fifth (80 → 96 MB on Workers). The native line needs none: onnxruntime-node's arena has no such step.
 */
export const WASM_SLOPE_MARGIN = 1.03;

/** The sizing for one served file on one CPU engine, decided once when its session is created. */
export function windowSizing(entry: ManifestEntry, device: 'cpu' | 'gpu', tileSize: number | undefined, budgetMB: number, engine: 'native' | 'wasm' = 'wasm'): WindowSizing {
  if (tileSize !== undefined) return { kind: 'fixed', tileSize, why: 'SRQ_TILE_SIZE' };
  if (device === 'gpu') return { kind: 'fixed', tileSize: DEFAULT_TILE_SIZE, why: 'GPU session' };
  const native = engine === 'native' && entry.nativeMemory !== undefined;
  const measured = native ? entry.nativeMemory : entry.memory;
  if (!measured) return { kind: 'fixed', tileSize: DEFAULT_TILE_SIZE, why: `the manifest has no memory measure for ${entry.file}` };
  const memory = native ? measured : { ...measured, bytesPerPixel: measured.bytesPerPixel * WASM_SLOPE_MARGIN };
  const maxPixels = windowPixelsFor(memory, budgetMB * MB);
  const smallest = 2 * tileContext(entry) + MIN_TILE_CORE;
  if (maxPixels < smallest * smallest) {
    const needs = Math.ceil((memory.baseBytes + memory.bytesPerPixel * smallest * smallest) / MB);
    throw new WindowBudgetError(`${entry.file} needs ≈ ${needs} MB of ${native ? 'memory' : 'wasm memory'} for its smallest window (${smallest}² px); this host allows ${budgetMB} MB: raise SRQ_MEMORY_MB or set SRQ_TILE_SIZE`);
  }
  return { kind: 'budget', maxPixels, budgetMB, measure: native ? 'native' : 'wasm' };
}

/** upscaleImage's window options for one image of width × height px. */
export function windowFor(sizing: WindowSizing, entry: ManifestEntry, width: number, height: number): { tileSize: number } | { window: { width: number; height: number } } {
  const pad = 2 * Math.ceil((entry.border ?? 0) / entry.scale);
  if (entry.wholeImage) return { window: { width: width + pad, height: height + pad } };
  // The size the tiler really uses: an asked-for square is raised as far as the model's context needs.
  if (sizing.kind === 'fixed') return { tileSize: tileSizeFor(entry, sizing.tileSize) };
  const { width: w, height: h } = planWindow(width + pad, height + pad, tileContext(entry), sizing.maxPixels);
  return { window: { width: w, height: h } };
}

/** The warm-up window: the largest an upload can need, so wasm memory grows at start-up, not on a request. */
export function warmUpSide(sizing: WindowSizing, maxInputPixels: number): number {
  if (sizing.kind === 'fixed') return sizing.tileSize;
  return Math.floor(Math.sqrt(Math.min(sizing.maxPixels, maxInputPixels)));
}

/** For /v1/models and the ready line. */
export function describeSizing(s: WindowSizing): string {
  return s.kind === 'fixed' ? `${s.tileSize}² px windows (${s.why})` : `windows up to ${s.maxPixels} px (${s.budgetMB} MB of ${s.measure === 'native' ? 'onnxruntime-node' : 'wasm'} memory)`;
}
