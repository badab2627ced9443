// The one Hono app every runtime serves. Runtime entries (entry.node.ts, entry.deno.ts, entry.workers.ts)
// only supply an EdgeRuntime (ORT bindings, files, GPU probe) and the environment.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { bearerAuth } from './auth.ts';
import { readConfig, type EdgeEnv } from './config.ts';
import { demoPage } from './demo-page.ts';
import { Engine, type EdgeRuntime } from './engine.ts';
import { ApiError, errorResponse, httpExceptionResponse, oneLine } from './errors.ts';
import { ConcurrencyLimiter } from './limiter.ts';
import { openApiDocument } from './openapi.ts';
import { RESULT_HEADERS, upscaleHandler } from './upscale-handler.ts';

export interface EdgeApp {
  app: Hono;
  engine: Engine;
}

/** Throws ConfigError (one line) on a bad setting. */
export function createEdgeApp(runtime: EdgeRuntime, env: EdgeEnv): EdgeApp {
  const config = readConfig(env);
  const engine = new Engine(runtime, config);
  const limiter = new ConcurrencyLimiter(config.maxConcurrent, config.maxQueue);
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(err);
    // Hono's own middleware (bearer-auth 401, body-limit 413, …) throw these: keep the status they mean.
    if (err instanceof HTTPException) return httpExceptionResponse(err);
    runtime.log(`srq-edge: ${c.req.method} ${c.req.path} failed: ${oneLine(err)}`);
    return errorResponse(new ApiError(500, 'internal_error', `the server failed: ${oneLine(err)}`));
  });
  app.notFound((c) => errorResponse(new ApiError(404, 'not_found', `no route ${c.req.method} ${c.req.path}; see GET /openapi.json, GET /v1/models, POST /v1/upscale`)));

  if (config.corsOrigins.length > 0) {
    const origins = config.corsOrigins;
    app.use('*', cors({
      origin: origins.includes('*') ? '*' : origins,
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['Authorization', 'Content-Type'],
      exposeHeaders: RESULT_HEADERS,
      maxAge: 600,
    }));
  }

  app.get('/', (c) => c.html(demoPage({ auth: config.apiKeys.length > 0 })));

  const openapi = openApiDocument(config);
  app.get('/openapi.json', (c) => c.json(openapi));

  app.get('/healthz', (c) => {
    const status = engine.status();
    if (status.state === 'ready') return c.json({ status: 'ready', runtime: runtime.name });
    // Workers have no start-up hook: the first probe starts loading, and waitUntil keeps it alive.
    const starting = engine.start().catch(() => undefined);
    try {
      c.executionCtx.waitUntil(starting);
    } catch {
      // Node and Deno have no execution context; their entries started the engine already.
    }
    if (status.state === 'failed') return errorResponse(new ApiError(503, 'model_unavailable', status.error!));
    return errorResponse(new ApiError(503, 'not_ready', 'loading the model and running a warm-up tile; retry in a moment', { 'retry-after': '1' }));
  });

  if (config.apiKeys.length > 0) app.use('/v1/*', bearerAuth(config.apiKeys));

  app.get('/v1/models', async (c) => {
    try {
      return c.json({ ...(await engine.describe()), queue: limiter.inUse });
    } catch (e) {
      throw new ApiError(503, 'model_unavailable', oneLine(e));
    }
  });

  app.post(
    '/v1/upscale',
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: () => {
        throw new ApiError(413, 'body_too_large', `the body is over ${config.maxBodyBytes} bytes (SRQ_MAX_BODY_BYTES); send a smaller image`);
      },
    }),
    upscaleHandler(engine, limiter, config),
  );

  return { app, engine };
}
