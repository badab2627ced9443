// The worker's models: the manifest, the precision this host serves, one ORT session per model (created on
// first use, then reused for the life of the process/isolate), and the warm-up that makes /healthz ready.
// Runtime-agnostic: each runtime entry supplies an EdgeRuntime with its ORT bindings and file access.
import type { JpegWasm } from '../src-core/image/index.ts';
import type { Runner } from '../src-core/runtime/runner.ts';
import type { EdgeConfig } from './config.ts';
import { ConfigError } from './config.ts';
import { oneLine } from './errors.ts';
import { chooseEncoder, jsPngEncoder, wasmJpegEncoder, type EncoderChoice, type JpegEncoder, type PngEncoder } from './encoders.ts';
import { chooseCpuEngine, describeCpuEngine, type CpuEngine, type CpuEngineChoice } from './cpu-engine.ts';
import { chooseVariant, cpuFallback, type GpuInfo, type HostCapabilities, type VariantChoice } from './host.ts';
import { modelNames, parseManifest, type EdgeManifest, type ManifestEntry } from './manifest.ts';
import { urlSource, verifyModelFile, type ModelSource } from './model-source.ts';
import { describeSizing, warmUpSide, windowSizing, type WindowSizing } from './windows.ts';
import { yieldBetweenRuns } from './yielding-runner.ts';

/** What a runtime entry point (entry.node.ts, entry.deno.ts, entry.workers.ts) provides. */
export interface EdgeRuntime {
  readonly name: 'node' | 'deno' | 'workerd';
  /** CPU threads when SRQ_THREADS is unset (1 where the runtime has no working threads). */
  readonly defaultThreads: number;
  /** Cap on SRQ_THREADS (1 on Workers, which have no threads); unset = none. */
  readonly maxThreads?: number;
  /** Memory inference may take when SRQ_MEMORY_MB is unset, MiB (it sizes the model input windows). */
  readonly memoryBudgetMB: number;
  /** onnxruntime-web's wasm, which every runtime has. */
  readonly wasm: CpuEngine;
  /** Native onnxruntime-node (cpu-engine.ts); absent where the runtime cannot load Node addons (Workers). */
  loadNative?(): Promise<CpuEngine>;
  /** FP16 on a GPU; absent where the runtime has no GPU path. */
  createGpuRunner?(model: Uint8Array, gpu: GpuInfo): Promise<Runner>;
  probeGpu(): Promise<HostCapabilities>;
  /** A native PNG encoder (@napi-rs/image, png-napi.node.ts); absent where the runtime cannot load Node addons. */
  loadNativePng?(): Promise<PngEncoder>;
  /** The JPEG encoder's compiled wasm (read from node_modules on Node and Deno, imported on Workers). */
  jpegWasm: JpegWasm;
  /** A native JPEG encoder (sharp, jpeg-sharp.node.ts); absent where the runtime cannot load Node addons. */
  loadNativeJpeg?(): Promise<JpegEncoder>;
  /** The default models shipped with srq. */
  embedded(): ModelSource;
  /** A manifest given as a file path; absent where there is no file system (Workers). */
  fileSource?(path: string): ModelSource;
  log(line: string): void;
}

export interface ServedModel {
  entry: ManifestEntry;
  device: VariantChoice['device'];
  runner: Runner;
  /** How big its input windows are here (src-edge/windows.ts). */
  sizing: WindowSizing;
}

export class ModelNotFoundError extends Error {
  override name = 'ModelNotFoundError';
}

interface Plan {
  manifest: EdgeManifest;
  source: ModelSource;
  defaultModel: string;
  choice: VariantChoice;
  /** What runs CPU sessions (also FP16 when forced onto the CPU or after a GPU failure). */
  cpu: CpuEngineChoice;
  /** What answers format=jpeg and format=png. */
  jpeg: EncoderChoice<JpegEncoder>;
  png: EncoderChoice<PngEncoder>;
}

export class Engine {
  readonly runtime: EdgeRuntime;
  readonly config: EdgeConfig;
  private planned?: Promise<Plan>;
  private started?: Promise<void>;
  private readonly sessions = new Map<string, Promise<ServedModel>>();
  private failure?: string;
  private warm = false;

  constructor(runtime: EdgeRuntime, config: EdgeConfig) {
    this.runtime = runtime;
    this.config = config;
  }

  get threads(): number {
    return Math.min(this.config.threads ?? this.runtime.defaultThreads, this.runtime.maxThreads ?? Infinity);
  }

  get memoryBudgetMB(): number {
    return this.config.memoryMB ?? this.runtime.memoryBudgetMB;
  }

  /** Loads the manifest, picks the precision, loads the default model and runs a warm-up tile. Idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      try {
        const served = await this.model(undefined);
        // The largest window a request can need: the first one then pays neither ORT's shape specialisation nor
        // wasm memory growth (twice the run time), and a budget the host cannot hold fails here, not on a request.
        const t = warmUpSide(served.sizing, this.config.maxInputPixels);
        await served.runner.run(new Float32Array(3 * t * t), [1, 3, t, t]);
        this.warm = true;
        const plan = await this.plan();
        this.runtime.log(`srq-edge: ready on ${this.runtime.name}: ${served.entry.name} (${served.device}-${served.entry.variant}), ${describeSizing(served.sizing)}; ${plan.choice.reason}${served.device === 'cpu' ? `; ${describeCpuEngine(plan.cpu.engine, this.threads)}: ${plan.cpu.reason}` : ''}`);
      } catch (e) {
        this.failure = oneLine(e);
        this.runtime.log(`srq-edge: not ready: ${this.failure}`);
        throw e;
      }
    })();
    return this.started;
  }

  /** 'ready' once a session is loaded and a warm-up tile ran. */
  status(): { state: 'starting' | 'ready' | 'failed'; error?: string } {
    if (this.warm) return { state: 'ready' };
    return this.failure ? { state: 'failed', error: this.failure } : { state: 'starting' };
  }

  plan(): Promise<Plan> {
    this.planned ??= this.makePlan();
    return this.planned;
  }

  /** The served session of a model (the default when `name` is undefined), created on first use. */
  async model(name: string | undefined): Promise<ServedModel> {
    const plan = await this.plan();
    const key = name ?? plan.defaultModel;
    let session = this.sessions.get(key);
    if (!session) {
      const entry = servedEntry(plan.manifest, key, plan.choice);
      session = this.load(plan, entry, plan.choice);
      this.sessions.set(key, session);
      // A failed load is not cached: the next request tries again (e.g. after a network error).
      session.catch(() => this.sessions.delete(key));
    }
    return session;
  }

  /** The manifest as /v1/models shows it. */
  async describe(): Promise<Record<string, unknown>> {
    const plan = await this.plan();
    const names = modelNames(plan.manifest);
    return {
      runtime: this.runtime.name,
      backend: plan.choice.gpu ? `${plan.choice.gpu.ep} (${plan.choice.gpu.detail})` : describeCpuEngine(plan.cpu.engine, this.threads),
      cpuEngine: { kind: plan.cpu.engine.kind, reason: plan.cpu.reason },
      jpegEncoder: { name: plan.jpeg.encoder.name, reason: plan.jpeg.reason },
      pngEncoder: { name: plan.png.encoder.name, reason: plan.png.reason },
      serving: { label: `${plan.choice.device}-${plan.choice.variant}`, variant: plan.choice.variant, device: plan.choice.device, reason: plan.choice.reason },
      manifest: plan.source.describe,
      defaultModel: plan.defaultModel,
      tileSize: this.config.tileSize ?? null,
      memoryBudgetMB: this.memoryBudgetMB,
      wasmMemoryMB: wasmMemoryMB(plan),
      models: names.map((name) => {
        const files = plan.manifest.models.filter((m) => m.name === name);
        let served: ManifestEntry | undefined;
        try {
          served = servedEntry(plan.manifest, name, plan.choice);
        } catch {
          served = undefined;
        }
        return {
          name,
          scale: files[0]!.scale,
          border: files[0]!.border ?? 0,
          overlap: files[0]!.overlap,
          variants: files.map((f) => ({ variant: f.variant, host: f.host, bytes: f.bytes, sha256: f.sha256 })),
          served: served ? { variant: served.variant, device: plan.choice.device, sha256: served.sha256 } : null,
          loaded: this.sessions.has(name),
        };
      }),
      limits: {
        maxBodyBytes: this.config.maxBodyBytes,
        maxInputPixels: this.config.maxInputPixels,
        maxOutputPixels: this.config.maxOutputPixels,
        deadlineMs: this.config.deadlineMs,
        maxConcurrent: this.config.maxConcurrent,
        maxQueue: this.config.maxQueue,
      },
    };
  }

  private async makePlan(): Promise<Plan> {
    const source = this.source();
    const manifest = parseManifest(await source.manifest(), source.describe);
    const names = modelNames(manifest);
    const defaultModel = this.config.model ?? names[0]!;
    if (!names.includes(defaultModel)) {
      throw new ConfigError(`SRQ_MODEL=${defaultModel} is not in the manifest (${names.join(', ')}); pick one of those`);
    }
    const cpu = await chooseCpuEngine(this.runtime.wasm, this.runtime.loadNative?.bind(this.runtime), this.config.cpuEngine, this.runtime.name);
    const jpeg = await chooseEncoder(wasmJpegEncoder(this.runtime.jpegWasm), this.runtime.loadNativeJpeg?.bind(this.runtime), 'sharp');
    const png = await chooseEncoder(jsPngEncoder, this.runtime.loadNativePng?.bind(this.runtime), '@napi-rs/image');
    const caps = await this.runtime.probeGpu();
    let choice = chooseVariant(caps, this.config.variant);
    if (choice.device === 'gpu') {
      // The GPU is only trusted once a real session on it exists; the default model's is kept.
      const entry = servedEntry(manifest, defaultModel, choice);
      const session = this.load({ manifest, source, defaultModel, choice, cpu, jpeg, png }, entry, choice);
      try {
        this.sessions.set(defaultModel, Promise.resolve(await session));
      } catch (e) {
        choice = cpuFallback(this.config.variant, oneLine(e));
        this.runtime.log(`srq-edge: ${choice.reason}`);
      }
    }
    return { manifest, source, defaultModel, choice, cpu, jpeg, png };
  }

  private source(): ModelSource {
    const where = this.config.manifest;
    if (where === undefined) return this.runtime.embedded();
    if (/^https?:\/\//.test(where)) return urlSource(where);
    if (!this.runtime.fileSource) {
      throw new ConfigError(`SRQ_MANIFEST=${where}: ${this.runtime.name} has no file system; give an https:// URL`);
    }
    return this.runtime.fileSource(where);
  }

  private async load(plan: Plan, entry: ManifestEntry, choice: VariantChoice): Promise<ServedModel> {
    const sizing = windowSizing(entry, choice.device, this.config.tileSize, this.memoryBudgetMB, plan.cpu.engine.kind);
    const bytes = await plan.source.read(entry.file);
    await verifyModelFile(bytes, entry);
    if (choice.device === 'gpu') {
      if (!this.runtime.createGpuRunner || !choice.gpu) throw new Error(`${this.runtime.name} has no GPU runner`);
      const runner = await this.runtime.createGpuRunner(bytes, choice.gpu);
      return { entry, device: 'gpu', runner: yieldBetweenRuns(runner), sizing };
    }
    return { entry, device: 'cpu', runner: yieldBetweenRuns(await plan.cpu.engine.create(bytes, this.threads, this.memoryBudgetMB * 2 ** 20)), sizing };
  }
}

/** The file a model is served from on this host: the chosen variant, else its FP32 file. */
export function servedEntry(manifest: EdgeManifest, name: string, choice: VariantChoice): ManifestEntry {
  const files = manifest.models.filter((m) => m.name === name);
  if (files.length === 0) {
    throw new ModelNotFoundError(`model '${name}' is not served here; use one of ${modelNames(manifest).join(', ')} (GET /v1/models)`);
  }
  const file = files.find((m) => m.variant === choice.variant) ?? files.find((m) => m.variant === 'fp32');
  if (!file) {
    throw new ModelNotFoundError(
      `model '${name}' has no ${choice.variant} or fp32 file in the manifest, and this host serves ${choice.variant}; add one or set SRQ_VARIANT`,
    );
  }
  return file;
}

/** The CPU engine's wasm memory now, MiB (null on a native engine, a GPU, or before its first session). */
function wasmMemoryMB(plan: Plan): number | null {
  const bytes = plan.choice.device === 'cpu' ? plan.cpu.engine.memoryBytes?.() : undefined;
  return bytes === undefined ? null : Math.round((10 * bytes) / 2 ** 20) / 10;
}
