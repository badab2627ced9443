// The MozJPEG encoder's wasm read from the installed @jsquash/jpeg package (Node, and Deno through node:fs).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { JpegWasm } from './jpeg.ts';

export const loadJpegWasm: JpegWasm = async () => {
  const file = createRequire(import.meta.url).resolve('@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm');
  return WebAssembly.compile(await readFile(file));
};
