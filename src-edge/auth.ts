// Optional bearer-token auth. Keys come from SRQ_API_KEYS (a Workers secret, or the environment). Every
// failure gets the same answer, so a caller learns nothing about which part was wrong.
import type { MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { ApiError } from './errors.ts';

export function bearerAuth(keys: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    const match = /^Bearer +(\S+) *$/i.exec(c.req.header('authorization') ?? '');
    const token = match?.[1] ?? '';
    let ok = false;
    // Compare against every key (no early exit): the time taken says nothing about which key was close.
    for (const key of keys) if (await timingSafeEqual(token, key)) ok = true;
    if (!ok) {
      throw new ApiError(401, 'unauthorized', 'missing or invalid API key; send Authorization: Bearer <key>', {
        'www-authenticate': 'Bearer realm="srq"',
      });
    }
    await next();
  };
}
