// Where the tiles go. Every window (the model's input) has the same size, tileSize × tileSize, so ORT
// runs one shape throughout; only an image smaller than a tile gets a smaller (whole-image) window.
// Windows never reach past the image: the model zero-pads at the image border exactly as it does when
// it sees the whole image, which is what makes tiled output equal untiled output.
// Each window contributes only its core, which keeps >= overlap px of real context on every side that
// borders another tile. Runtime-agnostic, pure arithmetic.

export class TilePlanError extends Error {
  override name = 'TilePlanError';
}

/** One axis: windows [start, start + size) and the cores [coreStart, coreEnd) they write. */
export interface AxisSpan {
  start: number;
  size: number;
  coreStart: number;
  coreEnd: number;
}

export interface Tile {
  x: AxisSpan;
  y: AxisSpan;
}

/** Splits [0, length) into windows of `tile` px whose cores keep `overlap` px of context from neighbours. */
export function planAxis(length: number, tile: number, overlap: number): AxisSpan[] {
  if (length <= tile) return [{ start: 0, size: length, coreStart: 0, coreEnd: length }];
  const step = tile - 2 * overlap;
  // n windows cover 2(tile - overlap) + (n - 2) step px of cores: solve for the smallest n.
  const n = Math.max(2, Math.ceil((length - 2 * overlap) / step));
  // Spread the windows evenly; consecutive starts differ by at most ceil((length - tile)/(n - 1)) <= step.
  const starts = Array.from({ length: n }, (_, k) => Math.round((k * (length - tile)) / (n - 1)));
  const spans: AxisSpan[] = [];
  for (let k = 0; k < n; k++) {
    const start = starts[k]!;
    // Cut where two windows overlap, in the middle, so each side keeps >= overlap px of context.
    const coreStart = k === 0 ? 0 : Math.floor((start + starts[k - 1]! + tile) / 2);
    const coreEnd = k === n - 1 ? length : Math.floor((starts[k + 1]! + start + tile) / 2);
    spans.push({ start, size: tile, coreStart, coreEnd });
  }
  return spans;
}

/** A window's size in input px; a number means a square. */
export type TileSize = number | { width: number; height: number };

export function planTiles(width: number, height: number, tile: TileSize, overlap: number): Tile[] {
  const tileWidth = typeof tile === 'number' ? tile : tile.width;
  const tileHeight = typeof tile === 'number' ? tile : tile.height;
  for (const [name, size] of [['tileSize', tileWidth], ['tile height', tileHeight]] as const) {
    if (!Number.isInteger(size) || size < 1) throw new TilePlanError(`${name} must be a positive integer, got ${size}`);
  }
  if (!Number.isInteger(overlap) || overlap < 0) {
    throw new TilePlanError(`overlap must be a non-negative integer, got ${overlap}; use the model's receptive-field radius`);
  }
  // Only an axis that needs splitting needs room for a core between two overlaps.
  for (const [length, size] of [[width, tileWidth], [height, tileHeight]] as const) {
    if (length > size && size <= 2 * overlap) {
      throw new TilePlanError(`tileSize ${size} leaves no room between two overlaps of ${overlap} px; use tileSize > ${2 * overlap}`);
    }
  }
  const xs = planAxis(width, tileWidth, overlap);
  const ys = planAxis(height, tileHeight, overlap);
  return ys.flatMap((y) => xs.map((x) => ({ x, y })));
}
