// One model's result as the job leaves it in the model's work folder (outcome.json beside the variant files and
// reports): the unit the cache stores and restores, so a restored model and a fresh one are read the same way.
// Node-only.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidatedModel } from '../../src-core/manifest.ts';
import type { ValidationReport } from '../../src-core/validate/schema.ts';
import type { WasmMemory } from '../../src-core/runtime/wasm-memory.ts';
import type { QualityBudget, Variant } from './options.ts';

export const OUTCOME_SCHEMA = 'srq.model-outcome/1';
export const OUTCOME_FILE = 'outcome.json';

export interface VariantOutcome {
  quantization: Variant;
  /** File name in the model's folder; the file exists only when the variant passed. */
  file: string;
  sha256: string;
  bytes: number;
  passed: boolean;
  /** What accuracy-aware quantization did, e.g. which layers it kept float. */
  note?: string;
  /** Published INT8 files: their wasm memory per window pixel, which the edge sizes its windows from. */
  memory?: WasmMemory;
  /** The same file's onnxruntime-node memory, which the edge sizes native windows from (absent: a wasm run). */
  nativeMemory?: WasmMemory;
}

export interface ModelOutcome {
  schema: typeof OUTCOME_SCHEMA;
  name: string;
  /** The FP32 model's path in the workspace (or at the base revision). */
  path: string;
  sha256: string;
  bytes: number;
  scale: number;
  /** Output px the model loses on each side (its description's border). */
  border: number;
  overlap: number;
  wholeImage?: boolean;
  gate: QualityBudget;
  variants: VariantOutcome[];
  /** Gated; reference = FP32, one candidate per variant in order. As JSON (infinite PSNR = null). */
  report: ValidationReport;
  /** Report files in the folder. */
  reports: { json: string; markdown: string; html: string };
}

export function writeOutcome(dir: string, outcome: ModelOutcome): void {
  writeFileSync(join(dir, OUTCOME_FILE), JSON.stringify(outcome, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
}

export function readOutcome(dir: string): ModelOutcome {
  const outcome = JSON.parse(readFileSync(join(dir, OUTCOME_FILE), 'utf8')) as ModelOutcome;
  if (outcome.schema !== OUTCOME_SCHEMA) throw new Error(`${join(dir, OUTCOME_FILE)} is not an ${OUTCOME_SCHEMA} file`);
  return outcome;
}

/** True when the model and every variant passed. */
export function outcomePassed(o: ModelOutcome): boolean {
  return o.variants.every((v) => v.passed);
}

export function toValidatedModel(o: ModelOutcome): ValidatedModel {
  return {
    name: o.name,
    scale: o.scale,
    border: o.border,
    overlap: o.overlap,
    ...(o.wholeImage ? { wholeImage: true } : {}),
    original: { path: o.path, sha256: o.sha256, bytes: o.bytes },
    gate: o.gate,
    report: o.report,
    files: o.variants.map((v) => ({ quantization: v.quantization, file: v.file, sha256: v.sha256, bytes: v.bytes, ...(v.memory ? { memory: v.memory } : {}), ...(v.nativeMemory ? { nativeMemory: v.nativeMemory } : {}) })),
  };
}
