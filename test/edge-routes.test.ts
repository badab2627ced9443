// The edge app's routes in-process (app.request, as Hono's own tests do): an HTTPException from Hono's own
// middleware keeps its status (and headers) in srq's error shape.
import { bearerAuth as honoBearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { createEdgeApp } from '../src-edge/app.ts';
import { nodeRuntime } from '../src-edge/runtime.node.ts';

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
