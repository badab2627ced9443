// The window shape that computes the fewest pixels for one image, given the most pixels one window may hold (the
// edge's wasm memory budget, see src-core/runtime/wasm-memory.node.ts). The whole image when it fits; otherwise
// the width/height pair with the least recomputed context: full-width strips on a wide image, a grid on a big one.
// Pure arithmetic, runtime-agnostic.
import { MIN_TILE_CORE } from './upscale.ts';

export interface WindowPlan {
  width: number;
  height: number;
  /** Windows the image takes, and the pixels they compute over the image's own (1 = no overhead). */
  windows: number;
  overhead: number;
}

export class WindowPlanError extends Error {
  override name = 'WindowPlanError';
}

/** Windows of `size` px that cover `length` px keeping `context` px on inner sides (as planAxis places them). */
function windowsAlong(length: number, size: number, context: number): number {
  return length <= size ? 1 : Math.max(2, Math.ceil((length - 2 * context) / (size - 2 * context)));
}

/**
 * Plans the window for a width × height image (already padded by the model's border) whose tiles keep `context`
 * px of context, holding at most maxPixels input px.
 */
export function planWindow(width: number, height: number, context: number, maxPixels: number): WindowPlan {
  const pixels = width * height;
  if (pixels <= maxPixels) return { width, height, windows: 1, overhead: 1 };
  const smallest = 2 * context + MIN_TILE_CORE;
  if (smallest * smallest > maxPixels) {
    throw new WindowPlanError(`a window of ${smallest}² px (the model's ${context} px of context on each side and an ${MIN_TILE_CORE} px core) needs more memory than this host allows`);
  }
  let best: WindowPlan | undefined;
  // A side that spans the whole image needs no core between two contexts, so it may be thinner than `smallest`.
  const widest = Math.min(width, Math.floor(maxPixels / Math.min(height, smallest)));
  for (let w = widest; w >= Math.min(width, smallest); w--) {
    const h = Math.min(height, Math.floor(maxPixels / w));
    if (h < height && h < smallest) continue;
    // A window wider than what its count needs only costs: shrink each side to the least that keeps the count.
    const nx = windowsAlong(width, w, context);
    const ny = windowsAlong(height, h, context);
    const fw = nx === 1 ? width : Math.ceil((width - 2 * context) / nx) + 2 * context;
    const fh = ny === 1 ? height : Math.ceil((height - 2 * context) / ny) + 2 * context;
    const cost = nx * ny * fw * fh;
    if (!best || cost < best.windows * best.width * best.height || (cost === best.windows * best.width * best.height && nx * ny < best.windows)) {
      best = { width: fw, height: fh, windows: nx * ny, overhead: 0 };
    }
  }
  return { ...best!, overhead: (best!.windows * best!.width * best!.height) / pixels };
}
