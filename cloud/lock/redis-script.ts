// Lua scripts on Redis, run by SHA with a fallback to the source: the lock
// (redis-lock.ts) and the fenced store (fenced-redis.ts) both do their
// check-and-write in one script, which Redis runs atomically.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

export function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/** EVALSHA, falling back to EVAL once when Redis does not have the script cached (restart, SCRIPT FLUSH). */
export async function runScript(conn: Redis, s: LuaScript, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
  try {
    return await conn.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes("NOSCRIPT")) throw err;
    return conn.eval(s.lua, keys.length, ...keys, ...args);
  }
}

/** A script's {number, number} reply, checked. */
export function integerPair(reply: unknown, what: string): [number, number] {
  if (!Array.isArray(reply) || reply.length !== 2 || typeof reply[0] !== "number" || typeof reply[1] !== "number") {
    throw new Error(`unexpected reply from the Redis ${what} script: ${JSON.stringify(reply)}`);
  }
  return [reply[0], reply[1]];
}
