// int8 coverage: the share of a quantized model's conv/matmul work (multiply-accumulates) that ORT runs in int8
// kernels, the layers left float and why, and the minimum-coverage gate. Measured by coverage.node.ts; this file
// holds the result, its one-line summary and the gate. Runtime-agnostic.
import type { CandidateResult, ValidationReport } from '../validate/schema.ts';

export interface FloatLayer {
  /** Node name in the quantized model (as srq's rewrites left it). */
  name: string;
  op: string;
  /** Share of the model's conv/matmul MACs this layer does (0..1). */
  macShare: number;
  why: string;
}

export interface Coverage {
  /** Share of the conv/convtranspose/matmul/gemm MACs (counted at a 64² input) that run in int8 kernels, 0..1. */
  int8MacShare: number;
  int8Layers: number;
  /** Conv/matmul layers in all; `unit` names them ('convs' when every one is a conv). */
  layers: number;
  unit: 'convs' | 'layers';
  /** Largest share first. */
  floatLayers: FloatLayer[];
  /** Layers srq left float that ORT runs in int8 anyway: between Q/DQ pairs it quantizes a float weight itself. */
  quantizedByOrt: string[];
  /** QuantizeLinear / DequantizeLinear nodes left in ORT's optimised graph (each marks a float op or a graph edge). */
  quantizeNodes: number;
  dequantizeNodes: number;
}

/** What a validation report keeps of a candidate's coverage: the measurement and, where gated, the verdict. */
export interface CoverageResult extends Coverage {
  /** The minimum it was gated against (% of MACs); absent when not gated (e.g. dynamic INT8). */
  minimum?: number;
  passed?: boolean;
  /** The gate's line when coverage is below the minimum (a failure, or why it was accepted). */
  message?: string;
}

/** Default minimum int8 coverage of a static INT8 variant, % of MACs. */
export const DEFAULT_MIN_COVERAGE = 90;
export const SEARCH_WHY = 'kept float by the accuracy-aware search';

/** One decimal; never "100.0%" for a share short of 1. */
export const percent = (share: number) => `${(share < 1 ? Math.min(share * 100, 99.9) : 100).toFixed(1)}%`;

/** `int8 coverage: 97.3% of MACs (18/18 convs), Q/DQ left: 1/1` */
export function coverageLine(c: Coverage): string {
  return `int8 coverage: ${percent(c.int8MacShare)} of MACs (${c.int8Layers}/${c.layers} ${c.unit}), Q/DQ left: ${c.quantizeNodes}/${c.dequantizeNodes}`;
}

function layerList(layers: readonly FloatLayer[], max = 6): string {
  const shown = layers.slice(0, max).map((l) => `${l.name} (${l.op}, ${percent(l.macShare)}: ${l.why})`);
  return shown.join(', ') + (layers.length > max ? ` and ${layers.length - max} more` : '');
}

/**
 * The minimum-coverage gate (`minimum` in % of MACs). Below it, a variant fails with one line naming the float
 * layers and why, unless the layers the accuracy-aware search kept float make up the difference: then it passes
 * and the line says so.
 */
export function checkCoverage(c: Coverage, minimum: number): { passed: boolean; message?: string } {
  const share = c.int8MacShare * 100;
  if (share >= minimum - 1e-9) return { passed: true };
  const searched = c.floatLayers.filter((l) => l.why === SEARCH_WHY);
  const searchedShare = searched.reduce((s, l) => s + l.macShare, 0) * 100;
  const below = `int8 coverage ${percent(c.int8MacShare)} of MACs is below the ${minimum}% minimum`;
  if (share + searchedShare >= minimum - 1e-9) {
    return { passed: true, message: `${below} because the accuracy-aware search kept ${searched.length} layer${searched.length === 1 ? '' : 's'} float: ${layerList(searched)}; accepted` };
  }
  const others = c.floatLayers.filter((l) => l.why !== SEARCH_WHY);
  return { passed: false, message: `${below}; float: ${layerList(others)}` };
}

/**
 * Records a candidate's coverage in the report and, when `minimum` is given, gates on it: a candidate below it
 * fails (and so does the report's gate). Returns the candidate's gate line, if any.
 */
export function gateCoverage(report: ValidationReport, index: number, coverage: Coverage, minimum?: number): string | undefined {
  const c: CandidateResult = report.candidates[index]!;
  if (minimum === undefined) {
    c.coverage = coverage;
    return undefined;
  }
  const { passed, message } = checkCoverage(coverage, minimum);
  c.coverage = { ...coverage, minimum, passed, ...(message ? { message } : {}) };
  if (!passed) {
    c.gate = { passed: false, failures: c.gate?.failures ?? [] };
    if (report.gate) report.gate = { ...report.gate, passed: false, reason: `${report.gate.reason.replace(/^gate passed/, 'gate failed')}; ${message}` };
  }
  return message;
}
