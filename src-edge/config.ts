// Worker settings from environment bindings (process.env, Deno.env, Workers vars/secrets), each with a
// default that is safe on the smallest host (a 128 MB Workers isolate). Read once per process/isolate.

export type EdgeEnv = Record<string, unknown>;

export interface EdgeConfig {
  /** SRQ_MANIFEST: manifest URL (https://…) or file path; unset = the embedded default models. */
  manifest: string | undefined;
  /** SRQ_MODEL: model used when a request names none; unset = the manifest's first model. */
  model: string | undefined;
  /** SRQ_VARIANT: force int8 (CPU) or fp16 (GPU where one works, else CPU); unset = by host. */
  variant: 'int8' | 'fp16' | undefined;
  /** SRQ_CPU_ENGINE: native (onnxruntime-node) or wasm (onnxruntime-web); unset = native where it loads (cpu-engine.ts). */
  cpuEngine: 'native' | 'wasm' | undefined;
  /** SRQ_THREADS: CPU threads; unset = the runtime's choice (up to 4 on Node and Deno, 1 on Workers). */
  threads: number | undefined;
  /**
   * SRQ_TILE_SIZE: a fixed square model input window in px; unset = sized per image from the memory budget and the
   * manifest's measured memory (the whole image when it fits), or 128 for files the manifest has no measure of.
   */
  tileSize: number | undefined;
  /** SRQ_MEMORY_MB: memory inference may take, MiB; unset = the runtime's (EdgeRuntime.memoryBudgetMB). */
  memoryMB: number | undefined;
  /** SRQ_MAX_BODY_BYTES: request body limit (413). */
  maxBodyBytes: number;
  /** SRQ_MAX_INPUT_PIXELS / SRQ_MAX_OUTPUT_PIXELS: read from the image header before decoding (413). */
  maxInputPixels: number;
  maxOutputPixels: number;
  /** SRQ_DEADLINE_MS: per request, from arrival; checked between tiles (503). */
  deadlineMs: number;
  /** SRQ_MAX_CONCURRENT upscales at once, SRQ_MAX_QUEUE more waiting; beyond that 429. */
  maxConcurrent: number;
  maxQueue: number;
  /** SRQ_API_KEYS: comma-separated bearer tokens; empty = no auth. */
  apiKeys: string[];
  /** SRQ_CORS_ORIGINS: '*' or comma-separated origins; empty = no CORS headers. */
  corsOrigins: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function readConfig(env: EdgeEnv): EdgeConfig {
  const text = (key: string): string | undefined => {
    const v = env[key];
    if (v === undefined || v === null) return undefined;
    const s = String(v).trim();
    return s === '' ? undefined : s;
  };
  const int = (key: string, fallback: number, min: number): number => {
    const s = text(key);
    if (s === undefined) return fallback;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`${key}=${s} is not an integer >= ${min}; fix or unset it`);
    return n;
  };
  const list = (key: string): string[] => (text(key) ?? '').split(',').map((s) => s.trim()).filter(Boolean);

  const variant = text('SRQ_VARIANT');
  if (variant !== undefined && variant !== 'int8' && variant !== 'fp16') {
    throw new ConfigError(`SRQ_VARIANT=${variant} is unknown; use int8 or fp16, or unset it to choose by host`);
  }
  const cpuEngine = text('SRQ_CPU_ENGINE');
  if (cpuEngine !== undefined && cpuEngine !== 'native' && cpuEngine !== 'wasm') {
    throw new ConfigError(`SRQ_CPU_ENGINE=${cpuEngine} is unknown; use native or wasm, or unset it (native where it loads)`);
  }
  const optionalInt = (key: string, min: number): number | undefined => (text(key) === undefined ? undefined : int(key, min, min));
  return {
    manifest: text('SRQ_MANIFEST'),
    model: text('SRQ_MODEL'),
    variant,
    cpuEngine,
    threads: optionalInt('SRQ_THREADS', 1),
    tileSize: optionalInt('SRQ_TILE_SIZE', 16),
    memoryMB: optionalInt('SRQ_MEMORY_MB', 16),
    maxBodyBytes: int('SRQ_MAX_BODY_BYTES', 16 * 1024 * 1024, 1),
    // 1 MP in and 4 MP out: a 4 MP RGBA result is 16 MB, which leaves room for the PNG encoder and ORT's
    // wasm memory inside 128 MB.
    maxInputPixels: int('SRQ_MAX_INPUT_PIXELS', 1024 * 1024, 1),
    maxOutputPixels: int('SRQ_MAX_OUTPUT_PIXELS', 2048 * 2048, 1),
    deadlineMs: int('SRQ_DEADLINE_MS', 60_000, 1),
    maxConcurrent: int('SRQ_MAX_CONCURRENT', 1, 1),
    maxQueue: int('SRQ_MAX_QUEUE', 8, 0),
    apiKeys: list('SRQ_API_KEYS'),
    corsOrigins: list('SRQ_CORS_ORIGINS'),
  };
}
