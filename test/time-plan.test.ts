// The job's time plan (src-action/job/time-plan.ts): step estimates from one tile's time, the refusal of a model
// that cannot fit its budget (with what it needs), the skip of a search that would not fit what is left, and the
// cheaper forms a static INT8 miss tries before the search (whose cost the plan counts).
import { describe, expect, it } from 'vitest';
import type { ModelDescription } from '../src-core/model/description.ts';
import { cheapForms } from '../src-action/job/model-job.ts';
import { overBudget, planLine, planTime, searchOverBudget, type PlanInput } from '../src-action/job/time-plan.ts';

const description = { scale: 4, border: 0, overlap: 10 } as ModelDescription;
const photo = { width: 512, height: 512 };
const input: PlanInput = {
  tileSeconds: 3.4, tileSide: 128, calibrationTiles: 32, method: 'mse', biasCorrection: true,
  convs: 351, layers: 351, variants: ['int8-static'], description, tileSize: 128,
  evaluation: [photo, photo], search: [{ width: 256, height: 256 }],
};

describe('time plan', () => {
  it('estimates each step from one FP32 tile run', () => {
    const plan = planTime(input);
    const step = (name: string) => plan.steps.find((s) => s.step === name)!.seconds;
    expect(step('calibration')).toBeCloseTo(32 * 2.6 * 3.4);
    // Equalization's own per-channel pass, only where PRelus are rewritten after it (elsewhere calibration's measures it).
    expect(planTime({ ...input, equalizationPass: true }).steps.find((s) => s.step === 'calibration')!.seconds).toBeCloseTo(32 * 3.6 * 3.4);
    // 351 convs = 8 parts of 48, each on 4 of the 32 tiles.
    expect(step('bias correction')).toBeCloseTo(8 * 4 * 3.4);
    // Each 512² photo is a 128² LR input, one tile: one run per photo, FP32 and int8 (half).
    expect(step('validation')).toBeCloseTo(2 * 1.5 * 3.4);
    // A 1024² photo is 256² in: tiles of 128 with 10 px of context each side make a 3×3 grid.
    expect(planTime({ ...input, evaluation: [{ width: 1024, height: 1024 }] }).steps.find((s) => s.step === 'validation')!.seconds).toBeGreaterThan(2 * 4 * 1.5 * 3.4);
    expect(plan.search).toBeGreaterThan(0);
    expect(planTime({ ...input, method: 'minmax', biasCorrection: false }).steps.map((s) => s.step)).toEqual(['calibration', 'validation']);
    // GPTQ: 351 conv inputs = 11 sessions of 32, each on 2 tiles, and 0.3 s of factorisation and rounding per conv (x4plus: 0.27 measured).
    expect(planTime({ ...input, gptq: true }).steps.find((s) => s.step === 'GPTQ')!.seconds).toBeCloseTo(22 * 3.4 + 351 * 0.3);
    // A miss of a model with PReLUs or residual sums first tries its cheaper forms (residual sums float, PReLUs whole),
    // from round 1's ranges and weights: bias correction and validation once more for each.
    const seconds = (p: typeof plan, steps: string[]) => steps.reduce((n, s) => n + (p.steps.find((x) => x.step === s)?.seconds ?? 0), 0);
    const again = seconds(plan, ['bias correction', 'validation']);
    expect(planTime({ ...input, cheapForms: 1 }).search).toBeCloseTo(plan.search + again);
    expect(planTime({ ...input, cheapForms: 2 }).search).toBeCloseTo(plan.search + 2 * again);
    expect(planLine(plan, 60)).toMatch(/^time plan: calibration ≈ 4:43, bias correction ≈ 1:49, validation ≈ 0:10 \(≈ 6:42 in all; fallback search, if static INT8 misses the budget, ≈ \d+:\d\d more\); time budget 60 min$/);
  });

  it('refuses a model that cannot fit, saying what it needs', () => {
    const plan = planTime(input);
    expect(overBudget(plan, 60, 'x4plus.onnx')).toBeUndefined();
    expect(overBudget(plan, 5, 'x4plus.onnx')).toBe('x4plus.onnx needs ≈ 7 min on this runner before any fallback search (calibration ≈ 4:43, bias correction ≈ 1:49, validation ≈ 0:10), over its 5 min time budget; set time-budget to 9 or more, or use a larger runner');
  });

  it('skips a fallback search that would not fit in what is left', () => {
    const plan = planTime(input);
    expect(searchOverBudget(plan, 600, 60)).toBeUndefined();
    expect(searchOverBudget(plan, 600, 11)).toMatch(/^the fallback search needs ≈ \d+:\d\d and the 11 min time budget has 1:00 left; raise time-budget to \d+ to let it run$/);
  });
});

describe('cheaper forms a static INT8 miss tries (model-job.ts)', () => {
  it('round 1 runs PReLUs in the runtime\'s form (pair convs on node, whole on wasm); then sums float, then PReLUs whole', () => {
    const sums = ['Add_1', 'Add_2'];
    const node = cheapForms(33, sums, 'node');
    expect(node.map((f) => f.what)).toEqual(['2 residual sums float', '33 PReLUs whole (DQ → PRelu → Q) and 2 residual sums float']);
    expect(node.map((f) => f.options)).toEqual([
      { preluMode: 'pair-conv', wholePrelus: false, exclude: sums },
      { preluMode: 'mul-add', wholePrelus: true, exclude: sums },
    ]);
    expect(cheapForms(33, [], 'node')).toEqual([{ what: '33 PReLUs whole (DQ → PRelu → Q)', options: { preluMode: 'mul-add', wholePrelus: true, exclude: [] } }]);
    // On wasm round 1 already has them whole.
    expect(cheapForms(33, sums, 'web')).toEqual([{ what: '2 residual sums float', options: { preluMode: 'mul-add', wholePrelus: true, exclude: sums } }]);
    expect(cheapForms(33, [], 'web')).toEqual([]);
    expect(cheapForms(0, [], 'node')).toEqual([]);
  });
});
