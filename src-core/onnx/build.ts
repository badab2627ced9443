// Builders for nodes, attributes, value infos, graphs and models (the shape of onnx.helper's make_* functions).
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './types.ts';
import { AttributeType } from './types.ts';
import { toNumber } from './long.ts';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Attribute values; each builder says its type explicitly (a JS number cannot tell int 1 from float 1.0). */
export const attr = {
  int: (v: number): AttributeProto => ({ type: AttributeType.INT, i: v }),
  ints: (v: readonly number[]): AttributeProto => ({ type: AttributeType.INTS, ints: [...v] }),
  float: (v: number): AttributeProto => ({ type: AttributeType.FLOAT, f: v }),
  floats: (v: readonly number[]): AttributeProto => ({ type: AttributeType.FLOATS, floats: [...v] }),
  string: (v: string): AttributeProto => ({ type: AttributeType.STRING, s: utf8.encode(v) }),
  tensor: (t: TensorProto): AttributeProto => ({ type: AttributeType.TENSOR, t }),
};

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, AttributeProto> = {},
  name?: string,
  domain?: string,
): NodeProto {
  const node: NodeProto = {
    input: inputs,
    output: outputs,
    opType,
    attribute: Object.entries(attributes).map(([key, a]) => ({ ...a, name: key })),
  };
  if (name) node.name = name;
  if (domain) node.domain = domain;
  return node;
}

/** An attribute's value, decoded: number, number[], string, string[], or tensor. */
export type AttrValue = number | number[] | string | string[] | TensorProto | GraphProto;

export function attrValue(a: AttributeProto): AttrValue | undefined {
  switch (a.type) {
    case AttributeType.FLOAT: return a.f ?? 0;
    case AttributeType.INT: return toNumber(a.i);
    case AttributeType.STRING: return utf8Decoder.decode(a.s ?? new Uint8Array());
    case AttributeType.TENSOR: return a.t ?? undefined;
    case AttributeType.GRAPH: return a.g ?? undefined;
    case AttributeType.FLOATS: return [...(a.floats ?? [])];
    case AttributeType.INTS: return (a.ints ?? []).map(toNumber);
    case AttributeType.STRINGS: return (a.strings ?? []).map((s) => utf8Decoder.decode(s));
    default: return undefined;
  }
}

/** A node's attribute by name, decoded; undefined when absent. */
export function getAttr(node: NodeProto, name: string): AttrValue | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? attrValue(a) : undefined;
}

export function getIntAttr(node: NodeProto, name: string, fallback: number): number {
  const v = getAttr(node, name);
  return typeof v === 'number' ? v : fallback;
}

export function getIntsAttr(node: NodeProto, name: string, fallback: number[]): number[] {
  const v = getAttr(node, name);
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : fallback;
}

export function getStringAttr(node: NodeProto, name: string, fallback: string): string {
  const v = getAttr(node, name);
  return typeof v === 'string' ? v : fallback;
}

export function setAttr(node: NodeProto, name: string, a: AttributeProto): void {
  const list = (node.attribute ??= []);
  const i = list.findIndex((x) => x.name === name);
  const named = { ...a, name };
  if (i >= 0) list[i] = named;
  else list.push(named);
}

export function makeValueInfo(name: string, elemType: number, shape: readonly (number | string | null)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
        },
      },
    },
  };
}

/** A value info's shape: numbers for fixed dims, strings for symbolic, null for unknown. */
export function valueInfoShape(v: ValueInfoProto): (number | string | null)[] | undefined {
  const shape = v.type?.tensorType?.shape;
  if (!shape) return undefined;
  // Decoded messages carry proto defaults on their prototype (dimValue 0), so ask which field is really set.
  return (shape.dim ?? []).map((d) =>
    d.dimParam ? d.dimParam : Object.hasOwn(d, 'dimValue') && d.dimValue !== null ? toNumber(d.dimValue) : null,
  );
}

export function makeGraph(g: {
  name: string;
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers?: TensorProto[];
}): GraphProto {
  return { name: g.name, node: g.nodes, input: g.inputs, output: g.outputs, initializer: g.initializers ?? [] };
}

/** IR version that goes with each default-domain opset (onnx/helper.py VERSION_TABLE). */
function irVersionForOpset(opset: number): number {
  if (opset <= 8) return 3;
  if (opset <= 10) return 5;
  if (opset <= 12) return 7;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export const DEFAULT_OPSET = 17;

export function makeModel(
  graph: GraphProto,
  opts: { opset?: number; metadata?: Record<string, string>; producer?: string; producerVersion?: string } = {},
): ModelProto {
  const opset = opts.opset ?? DEFAULT_OPSET;
  return {
    irVersion: irVersionForOpset(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: opts.producer ?? 'srq',
    producerVersion: opts.producerVersion ?? '',
    graph,
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}
