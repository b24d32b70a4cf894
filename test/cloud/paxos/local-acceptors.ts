// Acceptors inside the test process for PaxosClient tests that do not need
// NATS: the real Acceptor core and the simulator's store, reached through a
// ProposerTransport that delivers asynchronously (never in the caller's
// stack), persists before replying, and can take acceptors down.

import { Acceptor } from "../../../cloud/paxos/acceptor";
import type { ProposerTransport } from "../../../cloud/paxos/client";
import { MemoryAcceptorStore } from "../../../cloud/paxos/storage";
import type { AcceptorId, AcceptorReply, AcceptorRequest } from "../../../cloud/paxos/types";

interface Local {
  core: Acceptor;
  store: MemoryAcceptorStore;
  up: boolean;
}

export class LocalAcceptors {
  readonly #acceptors = new Map<AcceptorId, Local>();
  messages = 0;

  constructor(readonly ids: readonly AcceptorId[] = [1, 2, 3]) {
    for (const id of ids) {
      const store = new MemoryAcceptorStore();
      this.#acceptors.set(id, { core: new Acceptor(id), store, up: true });
    }
  }

  /** Power loss of acceptor `id`: it keeps what it synced (it syncs before every reply). */
  crash(id: AcceptorId): void {
    const a = this.#acceptors.get(id)!;
    a.up = false;
    a.store = a.store.crash({ keepBytes: 0 });
  }

  restart(id: AcceptorId): void {
    const a = this.#acceptors.get(id)!;
    a.core = new Acceptor(id, a.store.loaded());
    a.up = true;
  }

  transport(): ProposerTransport {
    let deliver: ((from: AcceptorId, replies: readonly AcceptorReply[]) => void) | undefined;
    let open = true;
    return {
      start: (d) => {
        deliver = d;
      },
      send: (to, msgs: readonly AcceptorRequest[]) => {
        this.messages += msgs.length;
        setImmediate(() => {
          const a = this.#acceptors.get(to);
          if (!a?.up || !open) return;
          const replies = msgs.map((m) => {
            const h = a.core.handle(m);
            if (h.write) a.store.put(h.write.key, h.write.slot);
            return h.reply;
          });
          a.store.syncNow();
          setImmediate(() => {
            if (open && a.up) deliver?.(to, replies);
          });
        });
      },
      close: async () => {
        open = false;
      },
    };
  }
}
