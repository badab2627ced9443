// The real-world corpus the benches run by default: Real-ESRGAN x4fast as imported from ncnn (models/), then the
// files of test/fixtures/corpus/corpus.json, less the PyTorch export of x4fast (bit-identical outputs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function realWorldCorpus(root) {
  const dir = join(root, 'test/fixtures/corpus');
  const listed = JSON.parse(readFileSync(join(dir, 'corpus.json'), 'utf8')).models;
  return [
    join(root, 'models/realesr-x4fast.onnx'),
    ...listed.map((m) => m.file).filter((file) => file !== 'realesr-x4fast-pytorch.onnx').map((file) => join(dir, file)),
  ];
}
