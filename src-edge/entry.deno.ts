// Deno entry: `deno task start` (deno.json). PORT (default 8787, 0 = any free port) and HOST (default 127.0.0.1).
// CPU: INT8 on native onnxruntime-node, which Deno loads as a Node addon when allowed FFI (the task allows it);
// without that permission (e.g. Deno Deploy) on onnxruntime-web's wasm with threads (an early note saw INT8
// sessions hang with wasm threads on Deno; with deno 2.9.6 and onnxruntime-web 1.30.0 they do not:
// test/edge-deno.test.ts runs 2). GPU: FP16 on onnxruntime-web's WebGPU build where Deno has an adapter.
import { loadSharpJpeg } from './jpeg-sharp.node.ts';
import { loadNapiPng } from './png-napi.node.ts';
import { loadNativeEngine } from './native-engine.node.ts';
import { wasmEngine } from './wasm-engine.ts';
import { createEdgeApp } from './app.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import type { EdgeRuntime } from './engine.ts';
import { ModelSourceError, type ModelSource } from './model-source.ts';
import { createWebGpuRunner, probeWebGpu } from './webgpu.ts';

// The slice of Deno's API used here (the project's tsconfig has Node's types, not Deno's).
declare const navigator: { hardwareConcurrency: number };
declare const Deno: {
  env: { toObject(): Record<string, string> };
  readFile(path: string | URL): Promise<Uint8Array>;
  cwd(): string;
  serve(
    opts: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', fn: () => void): void;
  exit(code: number): never;
};

function fileSource(manifest: URL, describe: string): ModelSource {
  const read = async (url: URL): Promise<Uint8Array> => {
    try {
      return await Deno.readFile(url);
    } catch (e) {
      throw new ModelSourceError(`cannot read ${url.pathname} (${e instanceof Error ? e.name : e}); check SRQ_MANIFEST and the files it lists`);
    }
  };
  return {
    describe,
    async manifest() {
      try {
        return JSON.parse(new TextDecoder().decode(await read(manifest)));
      } catch (e) {
        if (e instanceof ModelSourceError) throw e;
        throw new ModelSourceError(`${manifest.pathname} is not valid JSON; SRQ_MANIFEST must point at a manifest.json`);
      }
    },
    read: (file) => read(new URL(file, manifest)),
  };
}

const runtime: EdgeRuntime = {
  name: 'deno',
  // Threads scale to about 4 on these nets; more only contend with request handling.
  defaultThreads: Math.min(navigator.hardwareConcurrency, 4),
  // Memory for inference: whole 512² photos with the default models (their measures are in the manifest).
  memoryBudgetMB: 512,
  wasm: wasmEngine,
  loadNative: loadNativeEngine,
  jpegWasm: loadJpegWasm,
  loadNativeJpeg: loadSharpJpeg,
  loadNativePng: loadNapiPng,
  createGpuRunner: (model) => createWebGpuRunner(model),
  probeGpu: probeWebGpu,
  embedded: () => fileSource(new URL('./models/manifest.json', import.meta.url), 'embedded'),
  fileSource: (path) => fileSource(new URL(path, `file://${Deno.cwd()}/`), path),
  log: (line) => console.error(line),
};

const env = Deno.env.toObject();
const port = Number(env.PORT ?? 8787);
const hostname = env.HOST ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`srq-edge: PORT=${env.PORT} is not a port number; use 0-65535`);
  Deno.exit(2);
}
let edge;
try {
  edge = createEdgeApp(runtime, env);
} catch (e) {
  console.error(`srq-edge: ${e instanceof Error ? e.message : e}`);
  Deno.exit(2);
}
const server = Deno.serve({ port, hostname, onListen: (a) => console.log(`srq-edge: listening on http://${hostname}:${a.port}`) }, edge.app.fetch);
edge.engine.start().catch(() => undefined);
const stop = () => void server.shutdown().finally(() => Deno.exit(0));
Deno.addSignalListener('SIGINT', stop);
Deno.addSignalListener('SIGTERM', stop);
