// Reads the layer graph out of a TF.js layers-model model.json (Keras 2 serialisation, as written by the
// tfjs converter or by tfjs-layers' model.save): Functional/Model graphs and Sequential stacks.
import { KerasModelError } from './errors.ts';

/** One output tensor of one call of a layer, as Keras addresses it: [layer, node_index, tensor_index]. */
export interface TensorKey {
  layer: string;
  node: number;
  tensor: number;
}

export interface KerasLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  /** One entry per call of the layer (shared layers have several); each lists that call's inputs. */
  calls: TensorKey[][];
}

export interface KerasTopology {
  name: string;
  /** Layers in the order model.json lists them (Keras writes them topologically sorted). */
  layers: KerasLayer[];
  inputs: TensorKey[];
  outputs: TensorKey[];
}

/** The weight entries of model.json (one group per set of shard files). */
export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightsManifestEntry[];
}

/** model.json of a layers model, as far as the importer reads it. */
export interface LayersModelJson {
  format?: string;
  modelTopology: Record<string, unknown>;
  weightsManifest: WeightsManifestGroup[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the outer shape of model.json; graph models (tfjs_graph_model) are rejected with a pointer. */
export function asLayersModelJson(json: unknown): LayersModelJson {
  if (!isRecord(json)) throw new KerasModelError('model.json is not a JSON object; pass a TF.js layers-model model.json');
  if (json.format === 'graph-model' || (isRecord(json.modelTopology) && 'node' in json.modelTopology)) {
    throw new KerasModelError(
      'model.json is a TF.js graph model, not a layers model; srq import reads Keras layers models (format "layers-model")',
    );
  }
  if (!isRecord(json.modelTopology)) {
    throw new KerasModelError('model.json has no modelTopology object; pass a TF.js layers-model model.json');
  }
  if (!Array.isArray(json.weightsManifest)) {
    throw new KerasModelError('model.json has no weightsManifest list; pass the model.json that sits next to its .bin shards');
  }
  return json as unknown as LayersModelJson;
}

/** The layer graph of model.json's modelTopology ({model_config: {...}} or the model config itself). */
export function readTopology(modelTopology: Record<string, unknown>): KerasTopology {
  const model = isRecord(modelTopology.model_config) ? modelTopology.model_config : modelTopology;
  const className = model.class_name;
  const config = model.config;
  if (typeof className !== 'string' || !isRecord(config) || !Array.isArray(config.layers)) {
    throw new KerasModelError('modelTopology has no class_name/config.layers; it is not a Keras layers model');
  }
  if (className === 'Sequential') return readSequential(config);
  if (className === 'Functional' || className === 'Model') return readFunctional(config);
  throw new KerasModelError(`model class ${className} is not supported; srq import reads Functional, Model and Sequential models`);
}

function layerBasics(raw: unknown, index: number): { name: string; className: string; config: Record<string, unknown> } {
  if (!isRecord(raw) || typeof raw.class_name !== 'string' || !isRecord(raw.config)) {
    throw new KerasModelError(`layer #${index} in model.json has no class_name/config; the file is not a Keras layers model`);
  }
  const name = typeof raw.name === 'string' ? raw.name : raw.config.name;
  if (typeof name !== 'string' || name === '') throw new KerasModelError(`layer #${index} (${raw.class_name}) has no name`);
  return { name, className: raw.class_name, config: raw.config };
}

function readFunctional(config: Record<string, unknown>): KerasTopology {
  const layers = (config.layers as unknown[]).map((raw, i): KerasLayer => {
    const basics = layerBasics(raw, i);
    const inbound = (raw as Record<string, unknown>).inbound_nodes;
    if (!Array.isArray(inbound)) {
      throw new KerasModelError(`layer '${basics.name}' has no inbound_nodes list; re-export the model with Keras 2 / tfjs`);
    }
    return { ...basics, calls: inbound.map((call) => readCall(call, basics.name)) };
  });
  const names = new Set(layers.map((l) => l.name));
  const inputs = readKeyList(config.input_layers, 'input_layers');
  const outputs = readKeyList(config.output_layers, 'output_layers');
  for (const key of [...inputs, ...outputs, ...layers.flatMap((l) => l.calls.flat())]) {
    if (!names.has(key.layer)) throw new KerasModelError(`model.json refers to layer '${key.layer}', which it does not define`);
  }
  return { name: typeof config.name === 'string' ? config.name : 'model', layers, inputs, outputs };
}

/** One call's inputs. Keras 2 writes [[name, node, tensor, kwargs], ...]; Keras 3's {args: ...} form is not read. */
function readCall(call: unknown, layer: string): TensorKey[] {
  if (!Array.isArray(call)) {
    throw new KerasModelError(
      `layer '${layer}' has inbound_nodes in a format srq does not read (Keras 3?); export the model with Keras 2 / tfjs-layers`,
    );
  }
  return call.map((entry) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') {
      throw new KerasModelError(`layer '${layer}' has a malformed inbound node ${JSON.stringify(entry)}`);
    }
    if (isRecord(entry[3]) && Object.keys(entry[3]).length > 0) {
      throw new KerasModelError(`layer '${layer}' is called with keyword arguments ${JSON.stringify(entry[3])}, which srq import does not read`);
    }
    return { layer: entry[0], node: Number(entry[1] ?? 0), tensor: Number(entry[2] ?? 0) };
  });
}

function readKeyList(v: unknown, field: string): TensorKey[] {
  if (!Array.isArray(v) || v.length === 0) throw new KerasModelError(`model config has no ${field}; the model.json is malformed`);
  // A single [name, node, tensor] triple is also allowed by Keras.
  const list = typeof v[0] === 'string' ? [v] : v;
  return list.map((e) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string') throw new KerasModelError(`malformed ${field} entry ${JSON.stringify(e)}`);
    return { layer: e[0], node: Number(e[1] ?? 0), tensor: Number(e[2] ?? 0) };
  });
}

/** A Sequential stack as a chain: an InputLayer (explicit or made from the first layer's batch_input_shape). */
function readSequential(config: Record<string, unknown>): KerasTopology {
  const raws = (config.layers as unknown[]).map(layerBasics);
  if (raws.length === 0) throw new KerasModelError('the Sequential model has no layers');
  const layers: KerasLayer[] = [];
  let previous: string;
  if (raws[0]!.className === 'InputLayer') {
    layers.push({ ...raws.shift()!, calls: [] });
  } else {
    const shape = raws[0]!.config.batch_input_shape;
    if (!Array.isArray(shape)) {
      throw new KerasModelError('the Sequential model declares no input shape (batch_input_shape); build it with inputShape set');
    }
    layers.push({ name: `${raws[0]!.name}_input`, className: 'InputLayer', config: { batch_input_shape: shape }, calls: [] });
  }
  previous = layers[0]!.name;
  for (const raw of raws) {
    layers.push({ ...raw, calls: [[{ layer: previous, node: 0, tensor: 0 }]] });
    previous = raw.name;
  }
  return {
    name: typeof config.name === 'string' ? config.name : 'sequential',
    layers,
    inputs: [{ layer: layers[0]!.name, node: 0, tensor: 0 }],
    outputs: [{ layer: previous, node: 0, tensor: 0 }],
  };
}
