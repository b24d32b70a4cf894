// Sequential model of a key-value register map with put/get/cas, partitioned
// by key, for the linearizability checker.

import type { Model, Operation } from "./checker";

export type KvInput =
  | { readonly op: "put"; readonly key: string; readonly value: string }
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "cas"; readonly key: string; readonly from: string | null; readonly to: string };

/** put: null; get: the value (null if absent); cas: whether it swapped. */
export type KvOutput = { readonly value?: string | null; readonly ok?: boolean };

export type KvOperation = Operation<KvInput, KvOutput>;

export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case "put":
        return { ok: true, state: input.value };
      case "get":
        if (output === undefined) return { ok: true, state };
        return { ok: (output.value ?? null) === state, state };
      case "cas": {
        const swaps = state === input.from;
        if (output === undefined) return { ok: true, state: swaps ? input.to : state };
        if (output.ok !== swaps) return { ok: false, state };
        return { ok: true, state: swaps ? input.to : state };
      }
    }
  },
  partition(ops) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of ops) {
      const list = byKey.get(op.input.key) ?? [];
      list.push(op);
      byKey.set(op.input.key, list);
    }
    return [...byKey.values()];
  },
  key: (s) => (s === null ? "\u0000" : s),
  describe(op) {
    const i = op.input;
    const out = op.output === undefined ? "?" : JSON.stringify(op.output);
    const args = i.op === "put" ? `${i.key}=${i.value}` : i.op === "get" ? i.key : `${i.key}:${i.from}->${i.to}`;
    return `c${op.clientId} ${i.op}(${args}) -> ${out} [${op.callTime}, ${op.returnTime}]`;
  },
};
