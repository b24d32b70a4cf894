// Follower side of chunked InstallSnapshot: assembles chunks that arrive in
// order (stop-and-wait: the leader sends the next chunk when we ack), copes
// with duplicates and retransmissions, and restarts when the leader moves on
// to a newer snapshot.

import { assert } from "./types";
import type { Snapshot, SnapshotChunk, SnapshotMetadata } from "./types";

export type ChunkResult =
  /** Ack: the leader should send from `offset`. */
  | { readonly kind: "need"; readonly offset: number }
  /** We hold nothing that this chunk continues: the leader restarts from 0. */
  | { readonly kind: "reject" }
  | { readonly kind: "complete"; readonly snapshot: Snapshot };

export class SnapshotReceiver {
  #metadata: SnapshotMetadata | undefined;
  #totalBytes = 0;
  #chunks: Uint8Array[] = [];
  /** Invariant: #received == sum of #chunks lengths <= #totalBytes. */
  #received = 0;

  get receivedBytes(): number {
    return this.#received;
  }

  reset(): void {
    this.#metadata = undefined;
    this.#chunks = [];
    this.#received = 0;
    this.#totalBytes = 0;
  }

  receive(chunk: SnapshotChunk): ChunkResult {
    const meta = chunk.metadata;
    const same = this.#metadata !== undefined && this.#metadata.index === meta.index && this.#metadata.term === meta.term;
    if (chunk.offset === 0 && !same) {
      this.reset();
      this.#metadata = meta;
      this.#totalBytes = chunk.totalBytes;
    } else if (!same) {
      return { kind: "reject" };
    }
    if (chunk.totalBytes !== this.#totalBytes) {
      this.reset();
      return { kind: "reject" };
    }
    // A duplicate or a chunk from the future is ignored; the ack tells the leader where we are.
    if (chunk.offset === this.#received && chunk.data.byteLength > 0) {
      assert(this.#received + chunk.data.byteLength <= this.#totalBytes, "snapshot chunk beyond total size");
      this.#chunks.push(chunk.data.slice());
      this.#received += chunk.data.byteLength;
    }
    if (this.#received < this.#totalBytes) return { kind: "need", offset: this.#received };
    const data = new Uint8Array(this.#totalBytes);
    let at = 0;
    for (const c of this.#chunks) {
      data.set(c, at);
      at += c.byteLength;
    }
    this.reset();
    return { kind: "complete", snapshot: { metadata: meta, data } };
  }
}

/** Leader side: the chunk of `snap` starting at `offset`. */
export function snapshotChunk(snap: Snapshot, offset: number, chunkBytesMax: number): SnapshotChunk {
  assert(chunkBytesMax > 0, "snapshot chunkBytesMax must be > 0");
  const total = snap.data.byteLength;
  const from = Math.min(offset, total);
  const end = Math.min(total, from + chunkBytesMax);
  return { metadata: snap.metadata, offset: from, totalBytes: total, data: snap.data.subarray(from, end) };
}
