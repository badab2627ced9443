#!/usr/bin/env node
// The srq command. Runs the compiled CLI (`npm run build`, done by `npm ci`/`npm install` through `prepare`).
import { existsSync } from 'node:fs';

const entry = new URL('../build/src-cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('srq: the CLI is not built yet; run `npm run build` in the srq folder first');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
