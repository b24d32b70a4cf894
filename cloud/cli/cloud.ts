// `xsfleet cloud`: one cloud node process (see cloud/node).
import { runCloudNode } from "../node";

export function runCloud(argv: string[]): Promise<number> {
  return runCloudNode(argv);
}
