// The Action's inputs (action.yml) read into the job's options plus the GitHub-only settings. Every value is
// checked here, so a typo fails the step at once with one sentence naming the input.
import * as core from '@actions/core';
import {
  CALIBRATION_METHODS,
  DEFAULTS,
  JobInputError,
  parseChoice,
  parsePercent,
  parseQualityBudget,
  parseVariants,
  parsePositive,
  parseWhole,
  splitList,
  type JobOptions,
} from './job/options.ts';
import { DEFAULT_TIME_BUDGET } from './job/time-plan.ts';

export type RuntimeChoice = 'auto' | 'node' | 'web';

export interface ActionInputs {
  /** The job's options, less what the Action decides itself (workspace, runtime, base). */
  job: Omit<JobOptions, 'workspace' | 'runtime'>;
  runtime: RuntimeChoice;
  uploadArtifact: boolean;
  artifactName: string;
  failOnGate: boolean;
  /** On pull requests, run only the models the PR changes (else every matched model, still compared with base). */
  changedOnly: boolean;
  comment: boolean;
  token: string;
}

const text = (name: string) => core.getInput(name);

/** A true/false input; empty (no runner-supplied default, e.g. a local run) means `fallback`, as in action.yml. */
function bool(name: string, fallback: boolean): boolean {
  const value = text(name).trim();
  if (value === '') return fallback;
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw new JobInputError(`input ${name} must be true or false, got "${value}"`);
}

export function readInputs(): ActionInputs {
  const token = text('github-token');
  if (token) core.setSecret(token);
  const models = splitList(core.getInput('models', { required: true }));
  if (models.length === 0) throw new JobInputError('input models is empty; give one or more globs of FP32 .onnx files, e.g. models/*.onnx');
  const scale = text('scale').trim();
  const artifactName = text('artifact-name').trim() || 'srq-models';
  if (/[":<>|*?\\/]/.test(artifactName)) throw new JobInputError(`input artifact-name "${artifactName}" may not contain " : < > | * ? \\ /`);
  return {
    job: {
      models,
      variants: parseVariants(splitList(text('variants') || DEFAULTS.variants.join(',')), 'input variants'),
      calibrationImages: splitList(text('calibration-images')),
      evaluationImages: splitList(text('evaluation-images')),
      calibrationMethod: parseChoice('input calibration-method', text('calibration-method').trim() || DEFAULTS.calibrationMethod, CALIBRATION_METHODS),
      biasCorrection: bool('bias-correction', true),
      gate: parseQualityBudget(
        { metric: text('metric'), maxDrop: text('max-drop'), minFidelity: text('min-fidelity') },
        { metric: 'input metric', maxDrop: 'input max-drop', minFidelity: 'input min-fidelity' },
      ),
      minCoverage: parsePercent('input min-coverage', text('min-coverage').trim() || String(DEFAULTS.minCoverage)),
      tileSize: parseWhole('input tile-size', text('tile-size').trim() || String(DEFAULTS.tileSize), 8),
      timeBudget: parseWhole('input time-budget', text('time-budget').trim() || String(DEFAULT_TIME_BUDGET), 1),
      ...(text('memory-budget').trim() ? { memoryBudget: parsePositive('input memory-budget', text('memory-budget').trim()) } : {}),
      outDir: text('output-dir').trim() || DEFAULTS.outDir,
      ...(scale ? { scale: parseWhole('input scale', scale, 1) } : {}),
    },
    runtime: parseChoice('input runtime', text('runtime').trim() || 'auto', ['auto', 'node', 'web'] as const),
    uploadArtifact: bool('upload-artifact', true),
    artifactName,
    failOnGate: bool('fail-on-gate', true),
    changedOnly: bool('changed-only', true),
    comment: bool('comment', true),
    token,
  };
}
