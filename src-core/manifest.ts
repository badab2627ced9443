// The published-variants manifest: what `srq run` and the GitHub Action publish next to the model files, and what
// the edge worker loads. One entry per model file (a model in one precision). Runtime-agnostic.
//
//   { "version": 1, "srqVersion": "0.1.0", "models": [ { "name": "esrgan-slim-x4", "scale": 4, "overlap": 10,
//       "variant": "int8", "host": "cpu", "file": "esrgan-slim-x4.int8.onnx", "sha256": "…", "bytes": 271234,
//       "quantization": "int8-static", "original": { … }, "metrics": { … }, "srqVersion": "0.1.0" }, … ] }
//
// The first eight fields are the edge worker's shape (src-edge/manifest.ts), unchanged: `variant` is what a host
// serves (int8 on CPUs, fp16 on GPUs), `overlap` the FP32 graph's receptive-field radius (the tile context), `file`
// relative to the manifest. The rest is provenance and evidence, optional so that hand-made manifests (the edge's
// embedded one) fit too. The edge accepts one file per model and variant, so buildManifest lists at most one int8
// file per model even when both INT8 modes passed.
import type { WasmMemory } from './runtime/wasm-memory.ts';
import type { CandidateResult, QualityBudget, ValidationReport } from './validate/schema.ts';
import { dropMetricOf } from './validate/gate.ts';
import { SRQ_VERSION } from './version.ts';

export type ModelVariant = 'int8' | 'fp16' | 'fp32';
export type ModelHost = 'cpu' | 'gpu';
/** How srq made a file from the FP32 model (srq quantize --mode). */
export type Quantization = 'int8-static' | 'int8-dynamic' | 'fp16';

/**
 * What the gate measured for a published file (mean over the evaluation images): the gate (metric and maxDrop, or
 * metric fidelity and minFidelity) and the measured values.
 */
export type VariantMetrics = QualityBudget & {
  /** Mean drop vs FP32 on the gate's metric, or on PSNR-Y under a fidelity gate (dB; SSIM units for ssim). */
  drop: number;
  psnrY: number;
  psnrRgb: number;
  ssimY: number;
  /** RGB PSNR of this file's output vs FP32's (dB); null when identical. */
  fidelity: number | null;
  /** FP32's PSNR-Y on the same images, for scale. */
  fp32PsnrY: number;
  /** FP32 time / this file's time over the evaluation images, on the runtime that validated it. */
  speedup: number;
  runtime: 'node' | 'web';
  images: number;
  /** INT8 files: share of the conv/matmul MACs ORT runs in int8 kernels (0..1), and Q/DQ nodes it leaves. */
  coverage?: { int8MacShare: number; int8Layers: number; layers: number; quantizeNodes: number; dequantizeNodes: number };
};

export interface ManifestEntry {
  name: string;
  /** Integer upscaling factor (the model's description). */
  scale: number;
  /** Output px the model loses on each side: out = scale·in − 2·border. Absent = 0. */
  border?: number;
  /** True when tiles cannot reproduce the model's whole-image output: serve whole images. Absent = false. */
  wholeImage?: boolean;
  /** Input px of context each tile needs on every side. */
  overlap: number;
  variant: ModelVariant;
  /** The kind of host this file is made for: int8 for CPUs, fp16 for GPUs, fp32 for either. */
  host: ModelHost;
  /** Relative to the manifest. */
  file: string;
  /** Lower-case hex SHA-256 of the file. */
  sha256: string;
  bytes: number;
  /**
   * onnxruntime-web's wasm memory for this file (1 thread) as a line in a window's input px, measured
   * (src-core/runtime/wasm-memory.node.ts): the edge sizes its windows from it. Absent = the edge's fixed tile size.
   */
  memory?: WasmMemory;
  /**
   * onnxruntime-node's memory for this file as the edge's native engine runs it, measured
   * (src-core/runtime/native-memory.node.ts): the edge sizes native windows from it. Absent = from `memory`.
   */
  nativeMemory?: WasmMemory;
  /** Free-text provenance (the edge's embedded manifest). */
  source?: string;
  license?: string;
  quantization?: Quantization;
  /** The FP32 model the file was made from: its path in the repository, hash and size. */
  original?: { path: string; sha256: string; bytes: number };
  metrics?: VariantMetrics;
  /** srq version that made and validated the file. */
  srqVersion?: string;
}

export interface ModelManifest {
  version: 1;
  /** srq version that wrote the manifest. */
  srqVersion?: string;
  /** The first entry's model is the edge's default model. */
  models: ManifestEntry[];
}

export const EDGE_VARIANT: Record<Quantization, { variant: ModelVariant; host: ModelHost }> = {
  'int8-static': { variant: 'int8', host: 'cpu' },
  'int8-dynamic': { variant: 'int8', host: 'cpu' },
  fp16: { variant: 'fp16', host: 'gpu' },
};

/** One FP32 model's validated variants, as the job wrote them. */
export interface ValidatedModel {
  name: string;
  scale: number;
  border: number;
  overlap: number;
  wholeImage?: boolean;
  original: { path: string; sha256: string; bytes: number };
  /** The budget the report was gated with. */
  gate: QualityBudget;
  /** The gated report: reference = FP32, one candidate per file below, in the same order. */
  report: ValidationReport;
  files: { quantization: Quantization; file: string; sha256: string; bytes: number; memory?: WasmMemory; nativeMemory?: WasmMemory }[];
}

function coverageMetrics({ int8MacShare, int8Layers, layers, quantizeNodes, dequantizeNodes }: NonNullable<CandidateResult['coverage']>): NonNullable<VariantMetrics['coverage']> {
  return { int8MacShare, int8Layers, layers, quantizeNodes, dequantizeNodes };
}

/** A candidate is publishable only with a gate verdict of passed: no limits, or a failed limit, never publish. */
export function passedGate(c: CandidateResult): boolean {
  return c.gate?.passed === true;
}

/**
 * The manifest of the files that passed their gate, models in the given order, variants in each model's order;
 * for each model the first passing INT8 file is its int8 entry (the edge serves one per model and variant).
 */
export function buildManifest(models: readonly ValidatedModel[], srqVersion = SRQ_VERSION): ModelManifest {
  const entries: ManifestEntry[] = [];
  for (const m of models) {
    const { gate } = m;
    const dropMetric = dropMetricOf(gate);
    const listed = new Set<ModelVariant>();
    m.files.forEach((f, i) => {
      const c = m.report.candidates[i];
      if (!c || !passedGate(c)) return;
      const { variant, host } = EDGE_VARIANT[f.quantization];
      if (listed.has(variant)) return;
      listed.add(variant);
      entries.push({
        name: m.name,
        scale: m.scale,
        ...(m.border ? { border: m.border } : {}),
        ...(m.wholeImage ? { wholeImage: true } : {}),
        overlap: m.overlap,
        variant,
        host,
        file: f.file,
        sha256: f.sha256,
        bytes: f.bytes,
        ...(f.memory ? { memory: f.memory } : {}),
        ...(f.nativeMemory ? { nativeMemory: f.nativeMemory } : {}),
        quantization: f.quantization,
        original: m.original,
        metrics: {
          ...gate,
          drop: dropMetric === 'psnr-y' ? c.drop.psnrY : dropMetric === 'psnr-rgb' ? c.drop.psnrRgb : c.drop.ssimY,
          psnrY: c.mean.psnrY,
          psnrRgb: c.mean.psnrRgb,
          ssimY: c.mean.ssimY,
          fidelity: c.mean.fidelity === undefined || c.mean.fidelity === null || !Number.isFinite(c.mean.fidelity) ? null : c.mean.fidelity,
          fp32PsnrY: m.report.reference.mean.psnrY,
          speedup: Number((m.report.reference.latency.seconds / c.latency.seconds).toFixed(2)),
          runtime: m.report.setup.runtime,
          images: m.report.images.length,
          ...(c.coverage ? { coverage: coverageMetrics(c.coverage) } : {}),
        },
        srqVersion: m.report.srqVersion,
      });
    });
  }
  return { version: 1, srqVersion, models: entries };
}
