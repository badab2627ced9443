// The embedded default models as Workers modules (wrangler's Data rule): the INT8 files only, since Workers
// hosts are CPU hosts. test/edge-app.test.ts checks that this list matches manifest.json.
import manifest from './manifest.json' with { type: 'json' };
import medium4 from './esrgan-medium-x4.int8.onnx';
import slim2 from './esrgan-slim-x2.int8.onnx';
import slim3 from './esrgan-slim-x3.int8.onnx';
import slim4 from './esrgan-slim-x4.int8.onnx';
import slim8 from './esrgan-slim-x8.int8.onnx';
import x4fast from './realesr-x4fast.int8.onnx';

export const embeddedManifest: unknown = manifest;

export const embeddedFiles: Record<string, ArrayBuffer> = {
  'esrgan-slim-x4.int8.onnx': slim4,
  'esrgan-slim-x2.int8.onnx': slim2,
  'esrgan-slim-x3.int8.onnx': slim3,
  'esrgan-slim-x8.int8.onnx': slim8,
  'esrgan-medium-x4.int8.onnx': medium4,
  'realesr-x4fast.int8.onnx': x4fast,
};
