// Module types of wrangler's import rules (wrangler.toml): CompiledWasm for .wasm, Data for .onnx.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module '*.onnx' {
  const bytes: ArrayBuffer;
  export default bytes;
}
