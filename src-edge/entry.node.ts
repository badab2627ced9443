// Node entry: `npm start` (after `npm run build`, which `npm ci` runs). PORT (default 8787, 0 = any free port) and HOST (default 127.0.0.1).
import { serve } from '@hono/node-server';
import { createEdgeApp } from './app.ts';
import { nodeRuntime } from './runtime.node.ts';

function main(): void {
  const port = Number(process.env.PORT ?? 8787);
  const hostname = process.env.HOST ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`srq-edge: PORT=${process.env.PORT} is not a port number; use 0-65535`);
    process.exit(2);
  }
  let edge;
  try {
    edge = createEdgeApp(nodeRuntime(), process.env);
  } catch (e) {
    console.error(`srq-edge: ${e instanceof Error ? e.message : e}`);
    process.exit(2);
  }
  const server = serve({ fetch: edge.app.fetch, port, hostname }, (info) => {
    console.log(`srq-edge: listening on http://${hostname}:${info.port}`);
  });
  // Load the model and run the warm-up tile now; /healthz turns ready when it is done (failures are logged).
  edge.engine.start().catch(() => undefined);
  const stop = () => {
    server.close(() => process.exit(0));
    // In-flight upscales get a few seconds; ORT's wasm worker threads would otherwise keep the process alive.
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main();
