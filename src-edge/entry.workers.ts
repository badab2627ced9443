// Cloudflare Workers entry (wrangler.toml `main`). One app per isolate, created on the first request (Workers
// hand out env bindings per request); the session and warm-up happen on the first request or health probe.
import type { ExecutionContext } from 'hono';
import { createEdgeApp, type EdgeApp } from './app.ts';
import { ConfigError, type EdgeEnv } from './config.ts';
import type { EdgeRuntime } from './engine.ts';
import { ApiError, errorResponse, oneLine } from './errors.ts';
import { ModelSourceError, type ModelSource } from './model-source.ts';
import { embeddedFiles, embeddedManifest } from './models/embedded.workers.ts';
import { createWorkersRunner, ortWebVersion, workersMemoryBytes } from './ort-workers.ts';
// Precompiled by wrangler (the CompiledWasm rule), as ORT's wasm is: Workers may not compile wasm at run time.
import mozjpegWasm from '../node_modules/@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm';

const embedded: ModelSource = {
  describe: 'embedded',
  manifest: async () => embeddedManifest,
  async read(file) {
    const bytes = embeddedFiles[file];
    if (!bytes) throw new ModelSourceError(`${file} is not bundled into the worker (Workers bundle the INT8 files only); unset SRQ_VARIANT`);
    return new Uint8Array(bytes);
  },
};

const runtime: EdgeRuntime = {
  name: 'workerd',
  defaultThreads: 1,
  // 128 MB per isolate: the rest holds the JS heap, the images (a 4 MP output is 12 MB of RGB) and the encoder.
  memoryBudgetMB: 80,
  maxThreads: 1,
  wasm: { kind: 'wasm', version: ortWebVersion(), create: (model, _threads, memoryBytes) => createWorkersRunner(model, memoryBytes), memoryBytes: workersMemoryBytes },
  probeGpu: async () => ({ gpu: undefined, noGpuReason: 'Workers have no GPU' }),
  jpegWasm: async () => mozjpegWasm,
  embedded: () => embedded,
  log: (line) => console.log(line),
};

let edge: EdgeApp | undefined;
let configError: string | undefined;

export default {
  fetch(request: Request, env: EdgeEnv, ctx: ExecutionContext): Response | Promise<Response> {
    if (!edge && !configError) {
      try {
        edge = createEdgeApp(runtime, env);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        configError = oneLine(e);
      }
    }
    if (!edge) return errorResponse(new ApiError(503, 'misconfigured', configError!));
    return edge.app.fetch(request, env, ctx);
  },
};
