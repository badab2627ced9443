// POST /v1/upscale: check the request (query, type, size) from the header alone, wait for a slot, then
// decode → tiled inference → encode with the same src-core engine and codecs as the CLI.
import type { Context } from 'hono';
import { decodeImage, ImageError } from '../src-core/image/index.ts';
import { DeadlineError } from '../src-core/tiling/errors.ts';
import { upscaleImage } from '../src-core/tiling/upscale.ts';
import type { EdgeConfig } from './config.ts';
import { ModelNotFoundError, servedEntry, type Engine, type ServedModel } from './engine.ts';
import { ApiError, oneLine } from './errors.ts';
import type { ConcurrencyLimiter } from './limiter.ts';
import { checkPixels, readUpload } from './upload.ts';
import { windowFor } from './windows.ts';

/** Response headers the demo page and API clients read (CORS exposes them). */
export const RESULT_HEADERS = ['x-srq-model', 'x-srq-variant', 'x-srq-device', 'x-srq-scale', 'x-srq-tiles', 'x-srq-window', 'x-srq-model-sha256', 'server-timing'];

export function upscaleHandler(engine: Engine, limiter: ConcurrencyLimiter, config: EdgeConfig) {
  const handle = upscale(engine, limiter, config);
  return async (c: Context): Promise<Response> => {
    try {
      return await handle(c);
    } catch (e) {
      // Refused before the upload was read (429, 415, bad query): read it to the end first, so that a client
      // still sending gets the answer instead of a reset connection. Discarded as it streams: no memory held.
      await discardUnread(c.req.raw);
      throw e;
    }
  };
}

async function discardUnread(req: Request): Promise<void> {
  if (!req.body || req.bodyUsed) return;
  try {
    const reader = req.body.getReader();
    while (!(await reader.read()).done);
  } catch {
    // the client went away: nothing left to answer
  }
}

function upscale(engine: Engine, limiter: ConcurrencyLimiter, config: EdgeConfig) {
  return async (c: Context): Promise<Response> => {
    const arrived = Date.now();
    const query = c.req.query();
    const format = query.format;
    if (format !== undefined && format !== 'png' && format !== 'jpeg') {
      throw new ApiError(400, 'bad_parameter', `format=${format} is unknown; use png or jpeg (default: the input's format)`);
    }
    const quality = query.quality === undefined ? 90 : Number(query.quality);
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
      throw new ApiError(400, 'bad_parameter', `quality=${query.quality} must be an integer from 1 to 100`);
    }
    const plan = await available(engine.plan());
    const name = query.model ?? plan.defaultModel;
    let entry;
    try {
      entry = servedEntry(plan.manifest, name, plan.choice);
    } catch (e) {
      if (e instanceof ModelNotFoundError) throw new ApiError(400, 'unknown_model', e.message);
      throw e;
    }

    // Take a place in the queue before reading the body, so an overloaded host answers 429 at once.
    const slot = limiter.tryAcquire();
    if (!slot) {
      const retry = limiter.retryAfterSeconds();
      throw new ApiError(429, 'too_many_requests', `the server is busy (${config.maxConcurrent} running, ${config.maxQueue} waiting); retry in ${retry} s`, {
        'retry-after': String(retry),
      });
    }
    let release: (() => void) | undefined;
    try {
      const upload = await readUpload(c.req.raw);
      checkPixels(upload.header, entry.scale, config.maxInputPixels, config.maxOutputPixels);
      release = await slot;
      const signal = c.req.raw.signal;
      if (signal.aborted) throw new ApiError(400, 'client_closed', 'the client closed the connection');
      const queued = Date.now() - arrived;
      const served = await available(engine.model(name));

      const t0 = performance.now();
      let image;
      try {
        image = decodeImage(upload.bytes, { maxPixels: config.maxInputPixels });
      } catch (e) {
        if (e instanceof ImageError) throw new ApiError(400, 'undecodable_image', e.message);
        throw e;
      }
      const t1 = performance.now();
      let tiles = 0;
      const window = windowFor(served.sizing, served.entry, image.width, image.height);
      const output = await infer(served, image, window, arrived + config.deadlineMs, signal, (total) => (tiles = total), limiter);
      const t2 = performance.now();
      const outFormat = format ?? upload.header.format;
      const plan = await engine.plan();
      const bytes = outFormat === 'png' ? await plan.png.encoder.encode(output) : await plan.jpeg.encoder.encode(output, quality);
      const t3 = performance.now();

      const ms = (v: number) => v.toFixed(1);
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
        'content-type': outFormat === 'png' ? 'image/png' : 'image/jpeg',
        'x-srq-model': served.entry.name,
        'x-srq-variant': served.entry.variant,
        'x-srq-device': served.device,
        'x-srq-scale': String(served.entry.scale),
        'x-srq-tiles': String(tiles),
        'x-srq-window': 'window' in window ? `${window.window.width}x${window.window.height}` : `${window.tileSize}x${window.tileSize}`,
        'x-srq-model-sha256': served.entry.sha256,
        'server-timing': `queue;dur=${queued}, decode;dur=${ms(t1 - t0)}, infer;dur=${ms(t2 - t1)}, encode;dur=${ms(t3 - t2)}`,
        'cache-control': 'no-store',
      });
    } finally {
      if (release) release();
      else void slot.then((r) => r());
    }
  };
}

async function infer(
  served: ServedModel,
  image: Parameters<typeof upscaleImage>[1],
  window: ReturnType<typeof windowFor>,
  deadline: number,
  signal: AbortSignal,
  onTotal: (total: number) => void,
  limiter: ConcurrencyLimiter,
) {
  try {
    return await upscaleImage(served.runner, image, {
      scale: served.entry.scale,
      border: served.entry.border ?? 0,
      wholeImage: served.entry.wholeImage === true,
      overlap: served.entry.overlap,
      ...window,
      deadline,
      signal,
      onProgress: (_done, total) => onTotal(total),
    });
  } catch (e) {
    if (e instanceof DeadlineError) {
      throw new ApiError(503, 'deadline_exceeded', `${e.message} (SRQ_DEADLINE_MS)`, { 'retry-after': String(limiter.retryAfterSeconds()) });
    }
    if (signal.aborted) throw new ApiError(400, 'client_closed', 'the client closed the connection');
    throw e;
  }
}

/** Model loading failures (bad manifest, checksum, ORT init) are the server's: 503, the message as is. */
async function available<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(503, 'model_unavailable', oneLine(e), { 'retry-after': '30' });
  }
}
