// The simulated application: a small key-value map behind client sessions.

import type { StateMachine } from "../../../../cloud/raft/session";
import type { Entry } from "../../../../cloud/raft/types";
import type { KvInput, KvOutput } from "../../../lincheck/kv-model";

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeKvCommand(c: KvInput): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export function decodeKvOutput(b: Uint8Array): KvOutput {
  return JSON.parse(dec.decode(b)) as KvOutput;
}

export class KvStateMachine implements StateMachine {
  readonly data = new Map<string, string>();

  apply(entry: Entry): Uint8Array {
    const c = JSON.parse(dec.decode(entry.data)) as KvInput;
    let out: KvOutput;
    switch (c.op) {
      case "put":
        this.data.set(c.key, c.value);
        out = {};
        break;
      case "get":
        out = { value: this.data.get(c.key) ?? null };
        break;
      case "cas": {
        const ok = (this.data.get(c.key) ?? null) === c.from;
        if (ok) this.data.set(c.key, c.to);
        out = { ok };
        break;
      }
    }
    return enc.encode(JSON.stringify(out));
  }

  read(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([...this.data].sort()));
  }

  restore(bytes: Uint8Array): void {
    this.data.clear();
    for (const [k, v] of JSON.parse(dec.decode(bytes)) as [string, string][]) this.data.set(k, v);
  }
}
