// GET /openapi.json: the edge API described for strangers and their tools (OpenAPI 3.1), hand-written next to
// the routes in app.ts; test/edge-routes.test.ts checks that every route of the app is in it. The limits and
// whether a bearer key is needed come from this host's settings, so the document describes the running server.
// Runtime-agnostic.
import type { EdgeConfig } from './config.ts';
import { SRQ_VERSION } from '../src-core/version.ts';

const json = (schema: object) => ({ 'application/json': { schema } });

const errorResponse = (description: string, headers?: Record<string, object>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: json({ $ref: '#/components/schemas/Error' }),
});

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } };

/** The OpenAPI 3.1 document of this server's API. */
export function openApiDocument(config: Pick<EdgeConfig, 'apiKeys' | 'maxBodyBytes' | 'maxInputPixels' | 'maxOutputPixels' | 'deadlineMs' | 'maxConcurrent' | 'maxQueue'>): Record<string, unknown> {
  const auth = config.apiKeys.length > 0;
  const secured = auth ? { security: [{ bearer: [] }] } : {};
  const unauthorized = auth ? { 401: errorResponse('Missing or wrong bearer token (`Authorization: Bearer <key>`; the keys are SRQ_API_KEYS).', { 'WWW-Authenticate': { schema: { type: 'string' } } }) } : {};
  return {
    openapi: '3.1.0',
    info: {
      title: 'srq edge worker',
      version: SRQ_VERSION,
      summary: 'Super-resolution of PNG and JPEG images with srq-validated INT8 (CPU) and FP16 (GPU) models.',
      description: [
        'Every error is `{ "error": { "code", "message" } }`, with one line that names the problem and the fix.',
        `Limits on this server: body ≤ ${config.maxBodyBytes} bytes, input ≤ ${config.maxInputPixels} px, output ≤ ${config.maxOutputPixels} px, ${config.deadlineMs} ms per request, ${config.maxConcurrent} upscales at once and ${config.maxQueue} waiting.`,
      ].join('\n\n'),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    paths: {
      '/v1/upscale': {
        post: {
          operationId: 'upscale',
          summary: 'Upscale one image',
          description: 'The image is read from its header first: type, size and pixel limits are checked before any pixel is decoded. It is upscaled tile by tile with the same engine as the srq CLI.',
          ...secured,
          parameters: [
            { name: 'model', in: 'query', description: 'Model name from GET /v1/models; default: SRQ_MODEL or the manifest\'s first model.', schema: { type: 'string' } },
            { name: 'format', in: 'query', description: 'Output format; default: the input\'s.', schema: { type: 'string', enum: ['png', 'jpeg'] } },
            { name: 'quality', in: 'query', description: 'JPEG quality (MozJPEG, baseline, 4:2:0 chroma; use png for lossless output).', schema: { type: 'integer', minimum: 1, maximum: 100, default: 90 } },
          ],
          requestBody: {
            required: true,
            description: 'A PNG or JPEG as the raw body, or a form with the file field `image`.',
            content: {
              'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
              'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } },
              'multipart/form-data': {
                schema: { type: 'object', required: ['image'], properties: { image: { type: 'string', contentMediaType: 'application/octet-stream', description: 'The PNG or JPEG file.' } } },
              },
            },
          },
          responses: {
            200: {
              description: 'The upscaled image (alpha kept for PNG).',
              headers: {
                'X-Srq-Model': { description: 'Model used.', schema: { type: 'string' } },
                'X-Srq-Variant': { description: 'int8 or fp16.', schema: { type: 'string' } },
                'X-Srq-Device': { description: 'cpu or gpu.', schema: { type: 'string' } },
                'X-Srq-Scale': { description: 'Upscaling factor.', schema: { type: 'integer' } },
                'X-Srq-Tiles': { description: 'Tiles inferred.', schema: { type: 'integer' } },
                'X-Srq-Model-Sha256': { description: 'SHA-256 of the model file.', schema: { type: 'string' } },
                'Server-Timing': { description: 'queue, decode, infer, encode (ms).', schema: { type: 'string' } },
              },
              content: {
                'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
                'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } },
              },
            },
            400: errorResponse('Bad format or quality, unknown model, an empty or corrupt image, a form without `image`.'),
            ...unauthorized,
            413: errorResponse('The body, or the input or output pixels, over the limits.'),
            415: errorResponse('Not PNG, JPEG or multipart; bytes that are not PNG or JPEG; a Content-Type that disagrees with the bytes.'),
            429: errorResponse('Busy: the running and waiting slots are full.', retryAfter),
            503: errorResponse('The deadline passed, or the model cannot be loaded.', retryAfter),
          },
        },
      },
      '/v1/models': {
        get: {
          operationId: 'listModels',
          summary: 'The models, what this host serves and why, the limits and the queue',
          ...secured,
          responses: {
            200: { description: 'The models and this host.', content: json({ $ref: '#/components/schemas/Models' }) },
            ...unauthorized,
            503: errorResponse('The manifest or a model cannot be loaded.'),
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'health',
          summary: 'Ready once the default model is loaded and a warm-up tile ran',
          responses: {
            200: { description: 'Ready.', content: json({ type: 'object', required: ['status', 'runtime'], properties: { status: { const: 'ready' }, runtime: { type: 'string', examples: ['node', 'deno', 'workerd'] } } }) },
            503: errorResponse('Not ready yet (`not_ready`, with Retry-After) or the model cannot be loaded (`model_unavailable`).', retryAfter),
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          responses: { 200: { description: 'OpenAPI 3.1.', content: json({ type: 'object' }) } },
        },
      },
      '/': {
        get: {
          operationId: 'demoPage',
          summary: 'A demo page: pick an image, upload it, compare before and after',
          responses: { 200: { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
    },
    components: {
      ...(auth ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'One of the keys in SRQ_API_KEYS.' } } } : {}),
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', examples: ['unknown_model', 'image_too_large', 'too_many_requests'] },
                message: { type: 'string', description: 'One line: the problem and the fix.' },
              },
            },
          },
        },
        Models: {
          type: 'object',
          properties: {
            runtime: { type: 'string', examples: ['node', 'deno', 'workerd'] },
            backend: { type: 'string', examples: ['onnxruntime-node 1.30.0 (native, 4 threads)', 'onnxruntime-web 1.30.0 (wasm, 1 thread)'] },
            cpuEngine: {
              type: 'object',
              description: 'What runs CPU sessions: native onnxruntime-node where the runtime loads it, else wasm (SRQ_CPU_ENGINE forces one).',
              properties: { kind: { type: 'string', enum: ['native', 'wasm'] }, reason: { type: 'string' } },
            },
            jpegEncoder: {
              type: 'object',
              description: 'What answers format=jpeg: sharp where the runtime loads it, else MozJPEG wasm.',
              properties: { name: { type: 'string', examples: ['sharp 0.35.5 (libvips 8.18.7)', 'MozJPEG wasm (@jsquash/jpeg)'] }, reason: { type: 'string' } },
            },
            pngEncoder: {
              type: 'object',
              description: "What answers format=png: @napi-rs/image where the runtime loads it, else srq's deflate in JS.",
              properties: { name: { type: 'string', examples: ['@napi-rs/image 1.15.0, up to 4 row bands at once', "srq's deflate (JS)"] }, reason: { type: 'string' } },
            },
            serving: {
              type: 'object',
              properties: {
                label: { type: 'string', examples: ['cpu-int8', 'gpu-fp16'] },
                variant: { type: 'string', enum: ['int8', 'fp16'] },
                device: { type: 'string', enum: ['cpu', 'gpu'] },
                reason: { type: 'string' },
              },
            },
            manifest: { type: 'string', description: 'Where the manifest came from.' },
            defaultModel: { type: 'string' },
            tileSize: { type: ['integer', 'null'], description: 'SRQ_TILE_SIZE when set; null = windows sized per image from the memory budget.' },
            memoryBudgetMB: { type: 'integer', description: 'Memory inference may take, which sizes the input windows (SRQ_MEMORY_MB, else the runtime default).' },
            wasmMemoryMB: { type: ['number', 'null'], description: "onnxruntime-web's wasm memory now, MiB: it starts at the budget, so windows within the budget never grow it; null on a native engine or a GPU." },
            models: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  name: { type: 'string' },
                  scale: { type: 'integer' },
                  border: { type: 'integer' },
                  overlap: { type: 'integer' },
                  variants: { type: 'array', items: { type: 'object', properties: { variant: { type: 'string' }, host: { type: 'string' }, bytes: { type: 'integer' }, sha256: { type: 'string' } } } },
                  served: { type: ['object', 'null'], properties: { variant: { type: 'string' }, device: { type: 'string' }, sha256: { type: 'string' } } },
                  loaded: { type: 'boolean' },
                },
              },
            },
            limits: {
              type: 'object',
              properties: Object.fromEntries(['maxBodyBytes', 'maxInputPixels', 'maxOutputPixels', 'deadlineMs', 'maxConcurrent', 'maxQueue'].map((k) => [k, { type: 'integer' }])),
            },
            queue: { type: 'object', description: 'Upscales running and waiting now.', properties: { active: { type: 'integer' }, queued: { type: 'integer' } } },
          },
        },
      },
    },
  };
}
