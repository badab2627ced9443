// PNG responses' deflate on Node and Deno (which has node:zlib too). Paeth-filtered rows (png-encode.ts) deflated
// with zlib's run-length strategy at level 1, cut into one part per core (up to 4) that zlib deflates at once on its
// thread pool; the raw parts, each but the last ended by a sync flush (a byte-aligned empty block, no final bit),
// concatenate into one valid stream, as pigz does. On 1024² upscaled photos (`bench/codecs.mjs`, 2 cores): 33–44 ms
// for 785–835 KB, Up-filtered rows 35–40 ms for 1020–1092 KB, srq's own JS deflate (Workers') 37–46 ms for
// 770–824 KB; zlib's work runs off the event loop.
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { Deflate } from '../src-core/image/index.ts';
import { adler32 } from '../src-core/image/png-deflate.ts';

const { constants } = zlib;
const deflateRawAsync = promisify(zlib.deflateRaw);
const OPTIONS = { level: 1, strategy: constants.Z_RLE };
/** Below this a part is not worth a thread hop. */
const MIN_PART = 256 * 1024;

async function parallelDeflate(bytes: Uint8Array): Promise<Uint8Array> {
  const parts = Math.max(1, Math.min(availableParallelism(), 4, Math.floor(bytes.length / MIN_PART)));
  const step = Math.ceil(bytes.length / parts);
  const deflated = Promise.all(
    Array.from({ length: parts }, (_, i) =>
      deflateRawAsync(bytes.subarray(i * step, Math.min(bytes.length, (i + 1) * step)), {
        ...OPTIONS,
        finishFlush: i === parts - 1 ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      }),
    ),
  );
  const checksum = adler32(bytes); // on this thread while the parts deflate on zlib's (which computes it only for a whole stream)
  const chunks = await deflated;
  const out = new Uint8Array(2 + chunks.reduce((n, c) => n + c.length, 0) + 4);
  out[0] = 0x78; // deflate, 32 KB window
  out[1] = 0x01; // fastest level; header check bits make 0x7801 a multiple of 31
  let at = 2;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  new DataView(out.buffer).setUint32(at, checksum);
  return out;
}

// zlib.crc32 arrived in Node 20.15 (and Deno has it); the PNG encoder's table-driven JS one is the fallback.
const nativeCrc32 = (zlib as { crc32?: (bytes: Uint8Array) => number }).crc32;

export const fastDeflate: Deflate = { filter: 'paeth', deflate: parallelDeflate, ...(nativeCrc32 ? { crc32: (b: Uint8Array) => nativeCrc32(b) } : {}) };
