// Golden-file scenario tests in the spirit of etcd's datadriven interaction
// tests: each testdata/*.txt holds blocks of
//
//   <command> [args...]
//   ----
//   <expected output>
//
// separated by blank lines. Regenerate expectations with
//   REWRITE=1 npx vitest run test/cloud/raft/scenario.test.ts
// and review the diff. Commands: nodes N [prevote] [checkquorum],
// campaign ID, propose ID DATA, isolate ID, cut A B, recover, tick ID N,
// transfer LEADER TO, read ID CTX, status, log ID.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { MESSAGE_TYPE_NAMES, MessageType, STATE_NAMES, message } from "../../../cloud/raft/types";
import type { Message } from "../../../cloud/raft/types";
import { Network, allEntries, hup, prop } from "./helpers";

const dir = path.join(__dirname, "testdata");
const dec = new TextDecoder();

function fmt(m: Message): string {
  const parts = [`${m.from}->${m.to} ${MESSAGE_TYPE_NAMES[m.type]} term=${m.term}`];
  if (m.type === MessageType.App) parts.push(`prev=${m.index}@${m.logTerm} commit=${m.commit} entries=[${m.entries.map((e) => `${e.index}@${e.term}`).join(" ")}]`);
  if (m.type === MessageType.AppResp) parts.push(m.reject ? `reject=${m.index} hint=${m.rejectHint}@${m.logTerm}` : `index=${m.index}`);
  if (m.type === MessageType.Vote || m.type === MessageType.PreVote) parts.push(`last=${m.index}@${m.logTerm}`);
  if ((m.type === MessageType.VoteResp || m.type === MessageType.PreVoteResp) && m.reject) parts.push("rejected");
  if (m.type === MessageType.Heartbeat) parts.push(`commit=${m.commit}`);
  if (m.context && m.type !== MessageType.Vote) parts.push(`ctx=${dec.decode(m.context)}`);
  return parts.join(" ");
}

class Scenario {
  net: Network | undefined;

  run(cmd: string, args: string[]): string[] {
    if (cmd === "nodes") {
      this.net = Network.of(Number(args[0]), { preVote: args.includes("prevote"), checkQuorum: args.includes("checkquorum") });
      return this.status();
    }
    const n = this.net;
    if (!n) throw new Error("first command must be `nodes`");
    const before = n.delivered.length;
    const id = Number(args[0]);
    switch (cmd) {
      case "campaign":
        n.send(hup(id));
        break;
      case "propose":
        n.send(prop(id, args[1] ?? ""));
        break;
      case "isolate":
        n.isolate(id);
        return [];
      case "cut":
        n.cut(id, Number(args[1]));
        return [];
      case "recover":
        n.recover();
        return [];
      case "tick":
        for (let i = 0; i < Number(args[1] ?? 1); i++) {
          n.raft(id).tick();
          n.flush();
        }
        break;
      case "transfer":
        n.send(message({ type: MessageType.TransferLeader, from: Number(args[1]), to: id }));
        break;
      case "read":
        n.send(message({ type: MessageType.ReadIndex, from: 0, to: id, context: new TextEncoder().encode(args[1] ?? "r") }));
        return [
          ...n.delivered.slice(before).map(fmt),
          ...n.raft(id).readStates.splice(0).map((rs) => `read-state ${dec.decode(rs.context)} index=${rs.index}`),
        ];
      case "status":
        return this.status();
      case "log":
        return allEntries(n.raft(id)).map((e) => `${e.index}@${e.term} ${e.type === 1 ? "conf" : dec.decode(e.data) || "(no-op)"}`);
      default:
        throw new Error(`unknown command ${cmd}`);
    }
    return n.delivered.slice(before).map(fmt);
  }

  status(): string[] {
    const out: string[] = [];
    for (const [id, r] of this.net!.peers) {
      if (r) out.push(`${id} ${STATE_NAMES[r.state]} term=${r.term} lead=${r.lead} commit=${r.log.committed} last=${r.log.lastIndex()}`);
    }
    return out;
  }
}

interface Block {
  command: string;
  expected: string[];
}

function parse(text: string): Block[] {
  const blocks: Block[] = [];
  for (const chunk of text.split(/\n\s*\n/)) {
    const lines = chunk.split("\n").filter((l) => !l.startsWith("#"));
    if (lines.every((l) => l.trim() === "")) continue;
    const sep = lines.indexOf("----");
    if (sep !== 1) throw new Error(`malformed block (want "command\\n----"): ${chunk}`);
    blocks.push({ command: lines[0]!, expected: lines.slice(2).filter((l) => l !== "") });
  }
  return blocks;
}

function render(blocks: Block[]): string {
  return blocks.map((b) => [b.command, "----", ...b.expected].join("\n")).join("\n\n") + "\n";
}

describe("raft scenarios (testdata/*.txt)", () => {
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
    it(file, () => {
      const full = path.join(dir, file);
      const blocks = parse(fs.readFileSync(full, "utf8"));
      const s = new Scenario();
      const actual = blocks.map((b) => {
        const [cmd, ...args] = b.command.trim().split(/\s+/);
        return { command: b.command, expected: s.run(cmd!, args) };
      });
      if (process.env.REWRITE) {
        fs.writeFileSync(full, render(actual));
        return;
      }
      for (let i = 0; i < blocks.length; i++) {
        expect(actual[i]!.expected, `${file}: block ${i + 1} "${blocks[i]!.command}"`).toEqual(blocks[i]!.expected);
      }
    });
  }
});
