// Where the room-climate traces come from, in order: $XSFLEET_DATASETS,
// ../shared/datasets beside the repository (the project's input data, which
// may hold newer or other traces), then the copy bundled in data/.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export function roomClimateDir(): string {
  const candidates = [
    process.env.XSFLEET_DATASETS ? path.resolve(process.env.XSFLEET_DATASETS, "room-climate") : undefined,
    path.resolve(repoRoot, "..", "shared", "datasets", "room-climate"),
    path.resolve(repoRoot, "data", "room-climate"),
  ].filter((c): c is string => c !== undefined);
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`room-climate dataset not found (looked in ${candidates.join(", ")}); set XSFLEET_DATASETS`);
  return found;
}
