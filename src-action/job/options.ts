// What one srq run is asked to do, shared by `srq run` and the GitHub Action (each parses its own flags or inputs
// into this), with the defaults both document: static INT8, calibrated and validated on srq's built-in photos,
// gated at 0.1 dB mean PSNR-Y drop (or at a least fidelity to FP32's output, for GAN-style models).
import type { Quantization } from '../../src-core/manifest.ts';
import { DEFAULT_CALIBRATION_METHOD, type CalibrationMethod } from '../../src-core/quantize/calibrate.ts';
import type { DropMetric, GateMetric, QualityBudget } from '../../src-core/validate/schema.ts';

export type Variant = Quantization;
export type { DropMetric, QualityBudget };

export const VARIANTS: readonly Variant[] = ['int8-static', 'int8-dynamic', 'fp16'];
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy', 'mse'];
export const DROP_METRICS: readonly DropMetric[] = ['psnr-y', 'psnr-rgb', 'ssim'];
export const GATE_METRICS: readonly GateMetric[] = [...DROP_METRICS, 'fidelity'];

/** Calibration tiles cut from the calibration images, and where (as srq quantize's defaults). */
export const CALIBRATION_TILES = 32;
export const CALIBRATION_SEED = 1;

export interface JobOptions {
  /** Folder the model globs, image paths and git run in (the repository checkout). */
  workspace: string;
  /** Globs of FP32 models, relative to the workspace; only .onnx files count. */
  models: string[];
  variants: Variant[];
  /** Image files or folders; empty = srq's built-in photos. */
  calibrationImages: string[];
  evaluationImages: string[];
  calibrationMethod: CalibrationMethod;
  /** Empirical bias correction after calibration (static INT8); default true. */
  biasCorrection?: boolean;
  /** Activation equalization across conv pairs before calibration (static INT8); default true. */
  equalization?: boolean;
  /** Conv weights rounded by GPTQ from the calibration tiles (static INT8); default true. */
  gptq?: boolean;
  /** The gate: a largest mean drop vs FP32 on a ground-truth metric (dB; SSIM units for ssim), or a least fidelity. */
  gate: QualityBudget;
  /** Least share (%) of conv/matmul MACs ORT must run in int8 kernels for static INT8 to pass; default 90. */
  minCoverage?: number;
  /** Calibration and validation tile size in input pixels. */
  tileSize: number;
  /** Minutes each model may take (default DEFAULT_TIME_BUDGET): srq plans within it and refuses what cannot fit. */
  timeBudget?: number;
  /** GB each model may use at its peak (default: 90% of the machine's memory): srq plans within it and refuses what cannot fit. */
  memoryBudget?: number;
  /** A scale the user states: an override checked against the measured one, never trusted blindly. */
  scale?: number;
  /** Where variants, manifest.json and reports go (relative to the workspace, or absolute). */
  outDir: string;
  runtime: 'node' | 'web';
  threads?: number;
  /** A git revision: only models changed since it are run (see changedOnly), each compared with its version there. */
  base?: string;
  /** With a base: run only the models changed since it (default true); false runs every matched model. */
  changedOnly?: boolean;
  /** How reports name the base (e.g. the PR's base branch); default: `base`. */
  baseLabel?: string;
  /** Fetch the base commit from origin when the checkout lacks it (shallow CI checkouts). */
  fetchBase?: boolean;
}

export const DEFAULTS = {
  variants: ['int8-static'] as Variant[],
  calibrationMethod: DEFAULT_CALIBRATION_METHOD,
  metric: 'psnr-y' as DropMetric,
  maxDrop: 0.1,
  minCoverage: 90,
  tileSize: 128,
  outDir: 'srq-out',
};

/** A problem with what the run was asked to do (bad option, no model matched): the CLI's exit code 2. */
export class JobInputError extends Error {
  override name = 'JobInputError';
}

/**
 * The gate from flags or inputs, each absent (undefined or blank) when not given: a minimum fidelity (dB of the
 * candidate's output against FP32's) gates fidelity, which `metric fidelity` then need not say; otherwise a drop on
 * `metric`, DEFAULTS.maxDrop on DEFAULTS.metric unless given. `names` are the flags' or inputs' names for messages.
 */
export function parseQualityBudget(
  given: { metric?: string | undefined; maxDrop?: string | undefined; minFidelity?: string | undefined },
  names: { metric: string; maxDrop: string; minFidelity: string },
): QualityBudget {
  const value = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const [metricText, maxDrop, minFidelity] = [value(given.metric), value(given.maxDrop), value(given.minFidelity)];
  const metric = metricText === undefined ? undefined : parseChoice(names.metric, metricText, GATE_METRICS);
  if (minFidelity !== undefined || metric === 'fidelity') {
    if (metric !== undefined && metric !== 'fidelity') throw new JobInputError(`${names.minFidelity} gates fidelity, not ${metric}: drop ${names.metric} ${metric}, or use ${names.maxDrop} for a ${metric} drop`);
    if (maxDrop !== undefined) throw new JobInputError(`a fidelity gate is a minimum, not a drop: give ${names.minFidelity} <dB> without ${names.maxDrop}`);
    if (minFidelity === undefined) throw new JobInputError(`${names.metric} fidelity needs ${names.minFidelity} <dB>: the least mean PSNR of the variant's output against FP32's (e.g. 40)`);
    return { metric: 'fidelity', minFidelity: parseLimit(names.minFidelity, minFidelity) };
  }
  return { metric: metric ?? DEFAULTS.metric, maxDrop: maxDrop !== undefined ? parseLimit(names.maxDrop, maxDrop) : DEFAULTS.maxDrop };
}

/** Items of a list given as one string: separated by commas or new lines, blanks dropped. */
export function splitList(text: string): string[] {
  return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}

export function parseVariants(items: readonly string[], what = 'variants'): Variant[] {
  if (items.length === 0) throw new JobInputError(`${what} is empty; give one or more of ${VARIANTS.join(', ')}`);
  for (const v of items) {
    if (!(VARIANTS as readonly string[]).includes(v)) throw new JobInputError(`${what}: unknown variant "${v}"; use ${VARIANTS.join(', ')}`);
  }
  return [...new Set(items)] as Variant[];
}

export function parseChoice<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new JobInputError(`${what} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

/** A percentage in [0, 100]. */
export function parsePercent(what: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new JobInputError(`${what} must be a percentage from 0 to 100, got "${value}"`);
  return n;
}

/** A number ≥ 0 (a drop limit). */
export function parseLimit(what: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new JobInputError(`${what} must be a number ≥ 0, got "${value}"`);
  return n;
}

/** A number > 0 (a budget in GB). */
export function parsePositive(what: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new JobInputError(`${what} must be a number > 0, got "${value}"`);
  return n;
}

export function parseWhole(what: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new JobInputError(`${what} must be a whole number ≥ ${min}, got "${value}"`);
  return n;
}
