// The job's memory plan (src-action/job/memory-plan.ts) and the per-step peaks it is checked against
// (memory-watch.ts): estimates from the process's memory and one FP32 tile session, bias correction's parts shrunk
// to fit a budget, the refusal of a model that cannot fit (with what it needs), and peaks charged to their step.
import { describe, expect, it } from 'vitest';
import type { ModelDescription } from '../src-core/model/description.ts';
import { memoryPlanLine, overMemoryBudget, planMemory, type MemoryPlanInput } from '../src-action/job/memory-plan.ts';
import { memoryLine, MemoryWatch } from '../src-action/job/memory-watch.ts';

const GB = 1e9;
const description = { scale: 4, border: 0, overlap: 10 } as ModelDescription;
// Real-ESRGAN x4plus as the job measured it: 0.54 GB before the FP32 session, 0.45 GB for the session on a 128² tile.
const x4plus: MemoryPlanInput = {
  baseBytes: 0.54 * GB, sessionBytes: 0.45 * GB, tileSide: 128, convs: 351, variants: ['int8-static'], description,
  tileSize: 128, evaluation: [{ width: 512, height: 512 }],
};

describe('memory plan', () => {
  it('estimates each step from the base and one FP32 tile session', () => {
    const plan = planMemory(x4plus, 7 * GB);
    const step = (name: string) => plan.steps.find((s) => s.step === name)!.bytes / GB;
    expect(plan.steps.map((s) => s.step)).toEqual(['calibration', 'bias correction', 'validation', 'fallback search', 'coverage']);
    expect(step('calibration')).toBeCloseTo(0.54 + 0.15 + 2.5 * 0.45);
    // 48 convs per session: 0.06 of the session per conv.
    expect(plan.convsPerPart).toBe(48);
    expect(step('bias correction')).toBeCloseTo(0.54 + 0.45 + 48 * 0.06 * 0.45);
    // A 512² photo is a 128² input: one window the size of the tile.
    expect(step('validation')).toBeCloseTo(0.54 + 0.15 + 3.5 * 0.45);
    expect(plan.peakBytes / GB).toBeCloseTo(0.54 + 0.45 + 48 * 0.06 * 0.45);
    // The job measured 1.45, 1.99, 2.17, 1.65 and 1.44 GB for these steps (bench:job, x4plus, peak 2.19 GB).
    expect(memoryPlanLine(plan, 7 * GB)).toBe('memory plan: calibration ≈ 1.81 GB, bias correction ≈ 2.29 GB, validation ≈ 2.27 GB, fallback search ≈ 2.19 GB, coverage ≈ 1.51 GB (peak ≈ 2.29 GB; then the edge\'s memory measures, within what the budget leaves); memory budget 7.00 GB');
    // Without static INT8 only validation runs.
    expect(planMemory({ ...x4plus, variants: ['fp16'] }, 7 * GB).steps.map((s) => s.step)).toEqual(['validation']);
  });

  it('scales validation with its largest window: whole photos for a model that cannot be tiled', () => {
    const whole = planMemory({ ...x4plus, description: { ...description, wholeImage: true }, evaluation: [{ width: 1024, height: 768 }] }, 7 * GB);
    // 256×192 input against a 128² tile: 3× the session, with the whole-image margin (1.6).
    expect(whole.steps.find((s) => s.step === 'validation')!.bytes / GB).toBeCloseTo(0.54 + 0.15 + 3.5 * 0.45 * 3 * 1.6);
  });

  it('measures bias correction in smaller parts when the budget is tight, down to 4 convs', () => {
    const plan = planMemory(x4plus, 1.5 * GB);
    // (1.5 − 0.54 − 0.45) GB / (0.06 × 0.45 GB) per conv = 18 convs.
    expect(plan.convsPerPart).toBe(18);
    expect(plan.steps.find((s) => s.step === 'bias correction')!.bytes).toBeLessThanOrEqual(1.5 * GB);
    expect(memoryPlanLine(plan, 1.5 * GB)).toContain('bias correction measures 18 convs per session to fit');
    expect(planMemory(x4plus, 0.5 * GB).convsPerPart).toBe(4);
    // A model with fewer convs than a part is measured in one session whatever the budget allows.
    expect(planMemory({ ...x4plus, convs: 12 }, 7 * GB).steps.find((s) => s.step === 'bias correction')!.bytes / GB).toBeCloseTo(0.54 + 0.45 + 12 * 0.06 * 0.45);
  });

  it('refuses a model that cannot fit, saying what it needs', () => {
    expect(overMemoryBudget(planMemory(x4plus, 7 * GB), 7 * GB, 'x4plus.onnx')).toBeUndefined();
    const plan = planMemory(x4plus, 1.5 * GB);
    expect(overMemoryBudget(plan, 1.5 * GB, 'x4plus.onnx')).toBe('x4plus.onnx needs ≈ 2.27 GB of memory on this runner (calibration ≈ 1.81 GB, validation ≈ 2.27 GB, fallback search ≈ 2.19 GB, coverage ≈ 1.51 GB), over its 1.50 GB memory budget; set memory-budget to 2.8 or more, or use a runner with more memory');
  });
});

describe('memory watch', () => {
  it('charges each sample, and each rise of the high-water mark, to the step it happened in', () => {
    let reading = { rss: 100, highWater: 100 };
    const watch = new MemoryWatch('plan', () => reading, 60_000);
    reading = { rss: 150, highWater: 180 };
    watch.step('calibration');
    // The mark rose to 180 while "plan" ran (a peak between samples): plan's, not calibration's.
    reading = { rss: 120, highWater: 400 };
    watch.step('validation');
    reading = { rss: 300, highWater: 400 };
    const steps = watch.stop();
    expect(steps).toEqual([
      { step: 'plan', peakBytes: 180 },
      { step: 'calibration', peakBytes: 400 },
      { step: 'validation', peakBytes: 300 },
    ]);
    expect(memoryLine([{ step: 'calibration', peakBytes: 1.8e9 }])).toBe('calibration 1.80 GB');
  });
});
