// The ONNX layer: read/write ModelProto with protobufjs, build and edit graphs. Runtime-agnostic.
export * from './types.ts';
export * from './long.ts';
export * from './tensor.ts';
export * from './build.ts';
export * from './model.ts';
export * from './graph.ts';
export * from './inspect.ts';
export * from './sparse.ts';
export * from './constant-tables.ts';
