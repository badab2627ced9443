// report.json of a run (schema srq.run/1): what was run, with which options, what passed, what was published and
// where each model's full validation report (srq.validation/1) lies. Fields may be added within /1.
import type { BaseRevision } from './git.ts';
import type { QualityBudget, Variant } from './options.ts';

export const RUN_SCHEMA = 'srq.run/1';

export interface RunVariant {
  quantization: Variant;
  file: string;
  sha256: string;
  bytes: number;
  passed: boolean;
  /** Listed in manifest.json and present in the output folder. */
  published: boolean;
  note?: string;
}

export interface RunModel {
  name: string;
  path: string;
  sha256: string;
  /** hit: restored from the cache, no quantization or validation ran; miss: computed (and saved); off: no cache. */
  cache: 'hit' | 'miss' | 'off';
  passed: boolean;
  variants: RunVariant[];
  /** Output-relative paths of this model's validation report (JSON srq.validation/1, Markdown, HTML). */
  reports: { json: string; markdown: string; html: string };
  /** With a base revision: the model there (same options), 'new' when it did not exist, null when unknown. */
  base?: { sha256: string; variants: Omit<RunVariant, 'published'>[] } | 'new' | null;
}

/** A model the job could not run: its file is unreadable, or quantizing or validating it failed. */
export interface RunError {
  name: string;
  /** The model's path in the workspace. */
  path: string;
  /** One line: what failed. */
  error: string;
}

export interface RunReport {
  schema: typeof RUN_SCHEMA;
  srqVersion: string;
  /** ISO 8601. */
  date: string;
  passed: boolean;
  /** One sentence. */
  summary: string;
  /** What the run was asked to do; the gate as its metric and maxDrop, or metric fidelity and minFidelity. */
  options: {
    models: string[];
    variants: Variant[];
    calibrationMethod: string;
    biasCorrection: boolean;
    equalization: boolean;
    gptq: boolean;
    tileSize: number;
    runtime: 'node' | 'web';
    /** Paths as given; empty = srq's built-in photos. */
    calibrationImages: string[];
    evaluationImages: string[];
    /** The image files each set held, by name: what calibrated and what validated (held out). */
    calibrationPhotos: string[];
    evaluationPhotos: string[];
  } & QualityBudget;
  base: BaseRevision | null;
  models: RunModel[];
  /** Matched files left out, and why (e.g. not FP32). */
  skipped: { path: string; reason: string }[];
  /** Models that could not be run, with what failed; any makes `passed` false. */
  errors: RunError[];
  /** Every file the run wrote, relative to the output folder (the artifact's content). */
  files: string[];
}
