// srq bench through the real binary: variants made on the fly or given as files, timed on ORT-node and ORT-web
// (child process per configuration), a readable table with speedups and the JSON. No timing is asserted.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BenchReport } from '../src-cli/bench.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-bench-'));
const model = 'models/esrgan-slim-x2.onnx';

describe('srq bench', () => {
  it('makes the variants on the fly and times them on node and web, with sizes and speedups over FP32', () => {
    const json = join(work, 'bench.json');
    const r = srq(['bench', model, '--variants', 'fp32,int8-static,fp16', '--runtimes', 'node,web', '--threads', '1', '--runs', '5', '--json', json]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^variant\s+size\s+node×1 ms\s+web×1 ms$/);
    expect(lines[2]).toMatch(/^fp32\s+892 kB\s+[\d.]+\s+[\d.]+$/);
    expect(lines[3]).toMatch(/^int8-static\s+2\d\d kB \(2\d%\)\s+[\d.]+ \([\d.]+×\)\s+[\d.]+ \([\d.]+×\)$/);
    expect(lines[4]).toMatch(/^fp16\s+\d{3} kB \(5\d%\)\s+[\d.]+ \([\d.]+×\)\s+[\d.]+ \([\d.]+×\)$/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    expect(report.schema).toBe('srq.bench/1');
    expect(report.variants.map((v) => v.name)).toEqual(['fp32', 'int8-static', 'fp16']);
    expect(report.results).toHaveLength(6);
    for (const x of report.results) {
      expect(x.medianMs).toBeGreaterThan(0);
      if (x.variant === 'fp32') expect(x.speedup).toBe(1);
    }
  });

  it('times files as given, the first being the baseline', () => {
    const int8 = join(work, 'int8.onnx');
    expect(srq(['quantize', model, '-o', int8, '--calib-tiles', '4']).code).toBe(0);
    const r = srq(['bench', model, int8, '--runtimes', 'node', '--threads', '1', '--runs', '5']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^esrgan-slim-x2\.onnx\s+892 kB\s+[\d.]+$/m);
    expect(r.stdout).toMatch(/^int8\.onnx\s+2\d\d kB \(2\d%\)\s+[\d.]+ \([\d.]+×\)$/m);
    expect(r.stdout).toMatch(/speedup over esrgan-slim-x2\.onnx/);
  });

  it.each([
    ['no model', ['bench'], /bench needs a model/],
    ['an unknown variant', ['bench', model, '--variants', 'int4'], /--variants: unknown variant "int4"/],
    ['an unknown runtime', ['bench', model, '--runtimes', 'cuda'], /--runtimes: unknown runtime "cuda"; use node, web/],
    ['too few runs', ['bench', model, '--runs', '2'], /--runs must be a whole number ≥ 5/],
    ['variants with several files', ['bench', model, model, '--variants', 'fp16'], /with several files, each file is a variant/],
  ])('bad input: %s (exit 2)', (_name, args, message) => {
    const r = srq(args);
    expect(r.code).toBe(2);
    expect(expectOneLineError(r)).toMatch(message);
  });
});
