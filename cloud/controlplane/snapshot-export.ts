// Snapshots for backups, served by the control-plane service:
//
//   snapshot.begin {}                  leader only: a linearizable snapshot
//                                      (RaftNode.readSnapshot), kept here
//                                      under an id → {id, node, index, bytes, sha256, chunkBytes}
//   snapshot.chunk {id, offset}        on that node (the client pins it) → {offset, data: base64}
//
// A snapshot can exceed a NATS message (max_payload, 1 MiB by default), so
// it is read in chunks of one consistent copy. At most `snapshotsKeptMax`
// copies are kept, each for `snapshotKeepMs` after its last use.
import { createHash, randomUUID } from "node:crypto";
import type { NodeOutcome, RaftNode } from "./raft-node";

export const SNAPSHOT_EXPORT_LIMITS = {
  /** Raw bytes per chunk: base64 plus JSON stays well under 1 MiB. */
  chunkBytes: 256 * 1024,
  snapshotsKeptMax: 4,
  snapshotKeepMs: 120_000,
} as const;

export interface SnapshotInfo {
  readonly id: string;
  /** Node that holds the copy: fetch its chunks from it. */
  readonly node: number;
  /** Applied index the snapshot was taken at. */
  readonly index: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly chunkBytes: number;
}

interface Kept { info: SnapshotInfo; bytes: Uint8Array; usedAtMs: number }

export class SnapshotExport {
  readonly #node: RaftNode;
  readonly #kept = new Map<string, Kept>();

  constructor(node: RaftNode) {
    this.#node = node;
  }

  async begin(): Promise<NodeOutcome<SnapshotInfo>> {
    const snap = await this.#node.readSnapshot();
    if (!snap.ok) return snap;
    this.#sweep(Date.now());
    while (this.#kept.size >= SNAPSHOT_EXPORT_LIMITS.snapshotsKeptMax) this.#kept.delete(this.#kept.keys().next().value!);
    const info: SnapshotInfo = {
      id: randomUUID(), node: this.#node.id, index: snap.value.index, bytes: snap.value.bytes.byteLength,
      sha256: createHash("sha256").update(snap.value.bytes).digest("hex"), chunkBytes: SNAPSHOT_EXPORT_LIMITS.chunkBytes,
    };
    this.#kept.set(info.id, { info, bytes: snap.value.bytes, usedAtMs: Date.now() });
    return { ok: true, value: info };
  }

  /** The chunk at `offset` of snapshot `id`, or undefined when that copy is gone (expired, other node). */
  chunk(id: string, offset: number): { offset: number; data: string } | undefined {
    const k = this.#kept.get(id);
    if (!k || !Number.isSafeInteger(offset) || offset < 0 || offset > k.bytes.byteLength) return undefined;
    // Kept after the last chunk too (a client may retry it); swept after snapshotKeepMs or by newer copies.
    k.usedAtMs = Date.now();
    const part = k.bytes.subarray(offset, offset + k.info.chunkBytes);
    return { offset, data: Buffer.from(part).toString("base64") };
  }

  #sweep(nowMs: number): void {
    for (const [id, k] of this.#kept) if (nowMs - k.usedAtMs > SNAPSHOT_EXPORT_LIMITS.snapshotKeepMs) this.#kept.delete(id);
  }
}
