// The edge app's routes in-process (app.request, as Hono's own tests do): /openapi.json describes every route the
// app has, and an HTTPException from Hono's own middleware keeps its status (and headers) in srq's error shape.
import { bearerAuth as honoBearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { SRQ_VERSION } from '../src-core/version.ts';
import { createEdgeApp } from '../src-edge/app.ts';
import { nodeRuntime } from '../src-edge/runtime.node.ts';

type OpenApi = { openapi: string; info: { version: string }; paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>; components: { securitySchemes?: Record<string, unknown> } };

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document with every route of the app, and no route the app lacks', async () => {
    const { app } = createEdgeApp(nodeRuntime(), {});
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await res.json()) as OpenApi;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(SRQ_VERSION);
    // Handlers only: app.use middleware are registered with method ALL.
    const routes = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    expect([...routes].sort()).toEqual([...documented].sort());
    expect([...routes]).toEqual(expect.arrayContaining(['POST /v1/upscale', 'GET /v1/models', 'GET /healthz', 'GET /openapi.json']));
    // Without SRQ_API_KEYS nothing asks for a token.
    expect(doc.components.securitySchemes).toBeUndefined();
    expect(doc.paths['/v1/upscale']!['post']!.responses['401']).toBeUndefined();
  });

  it('says that /v1 needs a bearer token when SRQ_API_KEYS is set, and stays readable without one', async () => {
    const { app } = createEdgeApp(nodeRuntime(), { SRQ_API_KEYS: 'k1' });
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApi;
    expect(doc.components.securitySchemes).toEqual({ bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) {
        expect(op.security, path).toEqual(path.startsWith('/v1/') ? [{ bearer: [] }] : undefined);
        if (path.startsWith('/v1/')) expect(op.responses['401'], path).toBeDefined();
      }
    }
    // What it says is what the server does.
    expect((await app.request('/v1/models')).status).toBe(401);
  });

  it('is named by the 404 answer', async () => {
    const { app } = createEdgeApp(nodeRuntime(), {});
    const res = await app.request('/v2/nothing');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('GET /openapi.json');
  });
});

describe('HTTPException from Hono middleware', () => {
  it('keeps its status and headers (hono/bearer-auth: 401 with WWW-Authenticate), in srq\'s JSON error shape', async () => {
    const { app } = createEdgeApp(nodeRuntime(), {});
    app.get('/guarded', honoBearerAuth({ token: 'secret' }), (c) => c.text('ok'));
    const res = await app.request('/guarded');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unauthorized');
    expect(body.error.message).toMatch(/\S/);
    expect((await app.request('/guarded', { headers: { authorization: 'Bearer secret' } })).status).toBe(200);
  });

  it('passes any status through: 403, 429 with its Retry-After, and its own message', async () => {
    const { app } = createEdgeApp(nodeRuntime(), {});
    app.get('/forbidden', () => {
      throw new HTTPException(403, { message: 'not for you; ask the owner for a key' });
    });
    app.get('/busy', () => {
      throw new HTTPException(429, { res: new Response(null, { status: 429, headers: { 'retry-after': '7' } }) });
    });
    const forbidden = await app.request('/forbidden');
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ error: { code: 'forbidden', message: 'not for you; ask the owner for a key' } });
    const busy = await app.request('/busy');
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('7');
    expect(await busy.json()).toEqual({ error: { code: 'too_many_requests', message: 'too many requests; retry later' } });
  });
});
