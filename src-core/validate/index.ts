// Validation of SR model variants against a reference on ground-truth photos, the quality gate, and
// accuracy-aware static INT8. Runtime-agnostic; the JSON report's type (srq.validation/1) is in schema.ts.
export * from './schema.ts';
export { validateModels, ValidationError, LOW_RES_METHOD, type ModelUnderTest, type ValidateOptions, type Validation } from './validate.ts';
export { applyGate, hasLimits, gatedValue, METRIC_LABEL } from './gate.ts';
export { cropsFor, DIFFERENCE_GAIN, type ImageCrops } from './crops.ts';
export { tileLatencies, median, type TileLatency } from './latency.ts';
export { quantizeWithinBudget, type BudgetOptions, type BudgetResult, type BudgetStep, type DropMetric, type LayerSensitivity } from './accuracy-aware.ts';
export { prepareEvalImages, upscaleAll, scoreOutputs, bicubicOutputs, mean, type EvalImage, type ImageScores, type UpscaleSettings } from './evaluate.ts';
