// A small editing API over GraphProto: who produces and who consumes each tensor, topological order,
// adding and removing nodes and initializers. Indexes are rebuilt lazily after each edit.
import type { GraphProto, NodeProto, TensorProto, ValueInfoProto } from './types.ts';

export class GraphError extends Error {
  override name = 'GraphError';
}

export class Graph {
  readonly proto: GraphProto;
  private producers?: Map<string, NodeProto>;
  private consumerLists?: Map<string, NodeProto[]>;
  private initializers?: Map<string, TensorProto>;

  constructor(proto: GraphProto) {
    this.proto = proto;
    proto.node ??= [];
    proto.initializer ??= [];
    proto.input ??= [];
    proto.output ??= [];
    proto.valueInfo ??= [];
  }

  get nodes(): NodeProto[] {
    return this.proto.node!;
  }

  get inputs(): ValueInfoProto[] {
    // Old models list initializers among the inputs; those are weights, not inputs a caller feeds.
    const inits = this.initializerMap();
    return this.proto.input!.filter((v) => !inits.has(v.name ?? ''));
  }

  get outputs(): ValueInfoProto[] {
    return this.proto.output!;
  }

  producer(tensor: string): NodeProto | undefined {
    return this.producerMap().get(tensor);
  }

  consumers(tensor: string): NodeProto[] {
    return this.consumerMap().get(tensor) ?? [];
  }

  initializer(name: string): TensorProto | undefined {
    return this.initializerMap().get(name);
  }

  isGraphOutput(tensor: string): boolean {
    return this.proto.output!.some((o) => o.name === tensor);
  }

  /** Nodes ordered so each comes after the producers of its inputs (Kahn's algorithm, stable). */
  topologicalOrder(): NodeProto[] {
    const nodes = this.nodes;
    const producerIndex = new Map<string, number>();
    nodes.forEach((n, i) => n.output?.forEach((o) => o && producerIndex.set(o, i)));
    const pending = nodes.map((n) => new Set((n.input ?? []).filter((x) => x && producerIndex.has(x)).map((x) => producerIndex.get(x)!)));
    const dependents = nodes.map(() => [] as number[]);
    pending.forEach((deps, i) => deps.forEach((d) => dependents[d]!.push(i)));
    const ready = pending.flatMap((d, i) => (d.size === 0 ? [i] : []));
    const order: NodeProto[] = [];
    for (let k = 0; k < ready.length; k++) {
      const i = ready[k]!;
      order.push(nodes[i]!);
      for (const j of dependents[i]!) {
        pending[j]!.delete(i);
        if (pending[j]!.size === 0) ready.push(j);
      }
    }
    if (order.length !== nodes.length) throw new GraphError('graph has a cycle; ONNX graphs must be acyclic');
    return order;
  }

  /** Put the node list in topological order (ONNX requires it; ORT rejects unsorted graphs). */
  sort(): void {
    const order = this.topologicalOrder();
    this.nodes.splice(0, this.nodes.length, ...order);
  }

  /** Append a node; call sort() after a batch of edits to restore topological order. */
  addNode(node: NodeProto): NodeProto {
    this.nodes.push(node);
    this.invalidate();
    return node;
  }

  removeNode(node: NodeProto): void {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new GraphError(`node ${node.name || node.opType} is not in this graph`);
    this.nodes.splice(i, 1);
    this.invalidate();
  }

  addInitializer(t: TensorProto): TensorProto {
    if (!t.name) throw new GraphError('an initializer needs a name');
    if (this.initializerMap().has(t.name)) throw new GraphError(`initializer ${t.name} already exists`);
    this.proto.initializer!.push(t);
    this.invalidate();
    return t;
  }

  removeInitializer(name: string): void {
    const list = this.proto.initializer!;
    const i = list.findIndex((t) => t.name === name);
    if (i < 0) throw new GraphError(`initializer ${name} is not in this graph`);
    list.splice(i, 1);
    // Old-style models also list it among graph inputs.
    const inputs = this.proto.input!;
    const j = inputs.findIndex((v) => v.name === name);
    if (j >= 0) inputs.splice(j, 1);
    this.invalidate();
  }

  /** Replace every use of tensor `from` as a node input (and graph output) with `to`. */
  replaceUses(from: string, to: string): void {
    for (const n of this.nodes) n.input = (n.input ?? []).map((x) => (x === from ? to : x));
    for (const o of this.proto.output!) if (o.name === from) o.name = to;
    this.invalidate();
  }

  /** A tensor name not used yet in the graph, derived from `base`. */
  uniqueName(base: string): string {
    const used = this.allNames();
    if (!used.has(base)) return base;
    for (let i = 1; ; i++) if (!used.has(`${base}_${i}`)) return `${base}_${i}`;
  }

  /** Drop nodes whose outputs nobody uses and initializers no node reads. */
  removeUnused(): void {
    let changed = true;
    while (changed) {
      changed = false;
      for (const n of [...this.nodes]) {
        const used = (n.output ?? []).some((o) => o && (this.consumers(o).length > 0 || this.isGraphOutput(o)));
        if (!used) {
          this.removeNode(n);
          changed = true;
        }
      }
    }
    for (const t of [...this.proto.initializer!]) {
      if (this.consumers(t.name ?? '').length === 0 && !this.isGraphOutput(t.name ?? '')) this.removeInitializer(t.name!);
    }
  }

  invalidate(): void {
    this.producers = undefined;
    this.consumerLists = undefined;
    this.initializers = undefined;
  }

  private allNames(): Set<string> {
    const names = new Set<string>();
    for (const n of this.nodes) {
      n.input?.forEach((x) => names.add(x));
      n.output?.forEach((x) => names.add(x));
      if (n.name) names.add(n.name);
    }
    for (const t of this.proto.initializer!) names.add(t.name ?? '');
    for (const v of [...this.proto.input!, ...this.proto.output!, ...this.proto.valueInfo!]) names.add(v.name ?? '');
    return names;
  }

  private producerMap(): Map<string, NodeProto> {
    if (!this.producers) {
      this.producers = new Map();
      for (const n of this.nodes) for (const o of n.output ?? []) if (o) this.producers.set(o, n);
    }
    return this.producers;
  }

  private consumerMap(): Map<string, NodeProto[]> {
    if (!this.consumerLists) {
      this.consumerLists = new Map();
      for (const n of this.nodes) {
        for (const x of new Set(n.input ?? [])) {
          if (!x) continue;
          const list = this.consumerLists.get(x);
          if (list) list.push(n);
          else this.consumerLists.set(x, [n]);
        }
      }
    }
    return this.consumerLists;
  }

  private initializerMap(): Map<string, TensorProto> {
    if (!this.initializers) {
      this.initializers = new Map();
      for (const t of this.proto.initializer!) this.initializers.set(t.name ?? '', t);
    }
    return this.initializers;
  }
}

/** Counts of op types, e.g. { Conv: 12, Relu: 4 } (domain-prefixed for non-default domains). */
export function opHistogram(nodes: readonly NodeProto[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : (n.opType ?? '?');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
