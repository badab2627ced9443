// srq's version: the one place the code reads it from (models, reports, cache keys, srq --version). It is
// package.json's version, written here rather than imported so every runtime (Workers, Deno, the bundled
// Action) has it without reading files; test/version.test.ts keeps the two equal.
export const SRQ_VERSION = '1.0.0';
