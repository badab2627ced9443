// The validation report as JSON (`srq validate --json`), read by the GitHub Action and the PR gate.
// Versioned: fields may be added within srq.validation/1; renaming or removing one makes it /2.
// Runtime-agnostic, types only plus the serializer.
import type { Precision } from '../onnx/inspect.ts';
import type { CoverageResult } from '../quantize/coverage.ts';

export const VALIDATION_SCHEMA = 'srq.validation/1';

/** What the gate compares: a drop against the reference on a ground-truth metric, or fidelity to the reference. */
export type GateMetric = 'psnr-y' | 'psnr-rgb' | 'ssim' | 'fidelity';
/** The metrics measured as a drop against the ground truth (reference − candidate). */
export type DropMetric = Exclude<GateMetric, 'fidelity'>;

/**
 * What a job (srq run, the Action, srq quantize's search) holds a variant to: a largest mean drop against FP32 on a
 * ground-truth metric, or a least mean fidelity to FP32's output (dB) for models, e.g. GAN upscalers, that score
 * below bicubic against ground truth, where the drop says little about what quantization broke.
 */
export type QualityBudget = { metric: DropMetric; maxDrop: number } | { metric: 'fidelity'; minFidelity: number };

/**
 * Quality of one output against the ground truth (PSNR in dB, SSIM in [-1, 1]) and, for candidates, against
 * the reference model's output. In JSON a PSNR of null means the two images were identical (infinite PSNR).
 */
export interface Scores {
  psnrY: number;
  psnrRgb: number;
  ssimY: number;
  /** RGB PSNR (dB) of this output against the reference model's output, whole image; absent for the reference. */
  fidelity?: number | null;
}

/** Reference minus candidate: positive = the candidate is worse. dB for PSNR, SSIM units for SSIM. */
export interface Drops {
  psnrY: number;
  psnrRgb: number;
  ssimY: number;
}

export interface ImageResult extends Scores {
  image: string;
  /** Seconds this model took to upscale the image (tiled, excluding session creation). */
  seconds: number;
  /** Candidates only. */
  drop?: Drops;
}

export interface ModelResult {
  /** As given on the command line. */
  path: string;
  /** fp32, fp16, int8-static, int8-dynamic or mixed, read from the graph. */
  variant: Precision;
  /** File size in bytes. */
  bytes: number;
  /** Total upscaling time over all images (s) and per megapixel of output (ms). */
  latency: { seconds: number; msPerMegapixel: number };
  mean: Scores;
  images: ImageResult[];
}

export interface GateFailure {
  /** The image that failed, or null for the mean over all images. */
  image: string | null;
  /** The drop (or the fidelity) measured. */
  value: number;
  limit: number;
}

export interface CandidateResult extends ModelResult {
  /** Mean drop over the images (= drop of the means). */
  drop: Drops;
  /** Present when a limit was given. */
  gate?: { passed: boolean; failures: GateFailure[] };
  /** INT8 candidates: the share of conv/matmul MACs ORT runs in int8 kernels, and the layers left float (when measured). */
  coverage?: CoverageResult;
}

export interface GateLimits {
  metric: GateMetric;
  /** Largest allowed mean drop on `metric` (dB for PSNR, SSIM units for ssim); not for fidelity. */
  maxDrop?: number;
  /** Largest allowed drop on any one image. */
  maxImageDrop?: number;
  /** For metric fidelity: smallest allowed mean fidelity (dB). */
  minFidelity?: number;
  /** For metric fidelity: smallest allowed fidelity on any one image (dB). */
  minImageFidelity?: number;
}

export interface ValidationReport {
  schema: typeof VALIDATION_SCHEMA;
  srqVersion: string;
  /** ISO 8601. */
  date: string;
  setup: {
    scale: number;
    /** How the low-resolution inputs were made from the ground truth. */
    lowRes: string;
    /** Pixels removed on every side before PSNR/SSIM against the ground truth (= scale). */
    cropBorder: number;
    runtime: 'node' | 'web';
    threads: number | null;
    /** Validation tile size in input px; 0 = whole images (a model tiles cannot reproduce). */
    tileSize: number;
  };
  /** Ground-truth images (after cropping to a multiple of the scale). */
  images: { name: string; width: number; height: number }[];
  /** Bicubic upscaling of the same inputs: the baseline an SR model should beat. */
  bicubic: { mean: Scores; images: (Scores & { image: string })[] };
  reference: ModelResult;
  candidates: CandidateResult[];
  /** Absent when no limit was given (nothing gated). */
  gate?: { limits: GateLimits; passed: boolean; reason: string };
}

/** JSON text of a report: infinite PSNR (identical images) becomes null, numbers rounded to 9 significant digits. */
export function reportToJson(report: ValidationReport): string {
  return JSON.stringify(report, (_key, value) => {
    if (typeof value !== 'number') return value;
    if (!Number.isFinite(value)) return null;
    return Number.isInteger(value) ? value : Number(value.toPrecision(9));
  }, 2) + '\n';
}
