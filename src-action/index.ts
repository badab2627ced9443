// The Action's entry point (action.yml runs dist/index.js, bundled from this file): main reports everything.
import { run } from './main.ts';

await run();
