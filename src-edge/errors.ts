// Every error the worker answers with: `{ "error": { "code", "message" } }`, one line that names the problem
// and the fix, with the HTTP status that says whose fault it is. Never a stack trace.

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
