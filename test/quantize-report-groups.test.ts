// The per-tensor error report fetches its tensors in groups sized by bytes (quantize/report.ts): each group runs both
// models up to its deepest tensor, so on a deep model groups of a fixed count made the report quadratic in depth.
import { describe, expect, it } from 'vitest';
import { reportGroups } from '../src-core/quantize/report.ts';

const MB = 2 ** 20;

describe('reportGroups', () => {
  it('fills each group up to 256 MB of float tensors a tile, in the order given', () => {
    // 64 channels at 128²: 4 MB each, 64 of them a group.
    const tensors = Array.from({ length: 150 }, (_, i) => `t${i}`);
    const elements = new Map(tensors.map((t) => [t, 64 * 128 * 128]));
    const groups = reportGroups(tensors, elements);
    expect(groups.map((g) => g.length)).toEqual([64, 64, 22]);
    expect(groups.flat()).toEqual(tensors);
  });

  it('gives a tensor larger than the budget a group of its own, and counts unknown sizes as an eighth', () => {
    const elements = new Map([['small', MB / 4], ['huge', 100 * MB]]);
    expect(reportGroups(['small', 'huge', 'small2'], elements)).toEqual([['small'], ['huge'], ['small2']]);
    expect(reportGroups(Array.from({ length: 17 }, (_, i) => `u${i}`)).map((g) => g.length)).toEqual([8, 8, 1]);
  });
});
