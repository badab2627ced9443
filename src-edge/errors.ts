// Every error the worker answers with: `{ "error": { "code", "message" } }`, one line that names the problem
// and the fix, with the HTTP status that says whose fault it is. Never a stack trace.
import type { HTTPException } from 'hono/http-exception';

export type ErrorStatus = 400 | 401 | 404 | 413 | 415 | 429 | 500 | 503;

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: ErrorStatus;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: ErrorStatus, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function errorResponse(error: ApiError): Response {
  return new Response(JSON.stringify({ error: { code: error.code, message: error.message } }), {
    status: error.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...error.headers },
  });
}

/** The first line of an error's message (library errors are one line already; this guards the rest). */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.trim() || 'unknown error';
}

/** The code (and a message for when the exception has none) for each status Hono's middleware may throw. */
const HTTP_EXCEPTION: Record<number, [code: string, message: string]> = {
  400: ['bad_request', 'the request is malformed'],
  401: ['unauthorized', 'missing or invalid credentials; send Authorization: Bearer <key>'],
  403: ['forbidden', 'this request is not allowed'],
  404: ['not_found', 'no such resource'],
  405: ['method_not_allowed', 'this method is not allowed here'],
  408: ['request_timeout', 'the request took too long; send it again'],
  413: ['body_too_large', 'the body is too large; send a smaller image'],
  415: ['unsupported_media_type', 'send a PNG or JPEG'],
  429: ['too_many_requests', 'too many requests; retry later'],
  503: ['unavailable', 'the server cannot answer now; retry later'],
};

/**
 * A Hono HTTPException (thrown by Hono's own middleware, e.g. hono/bearer-auth's 401 or hono/body-limit's 413)
 * as srq's JSON error, with the exception's own status, and the headers of the response it carries (such as
 * WWW-Authenticate or Retry-After).
 */
export function httpExceptionResponse(err: HTTPException): Response {
  const [code, fallback] = HTTP_EXCEPTION[err.status] ?? (err.status >= 500 ? ['internal_error', 'the server failed'] : ['bad_request', 'the request was refused']);
  const headers: Record<string, string> = {};
  err.res?.headers.forEach((value, key) => {
    if (key !== 'content-type' && key !== 'content-length') headers[key] = value;
  });
  return new Response(JSON.stringify({ error: { code, message: err.message ? oneLine(err) : fallback } }), {
    status: err.status,
    headers: { ...headers, 'content-type': 'application/json; charset=utf-8' },
  });
}
