// The dashboard page: one self-contained HTML file (inline CSS and JS, no
// external assets: the machines it runs on may have no internet). Kept as a
// real .html file so it can be edited and opened as one.
import { readFileSync } from "node:fs";

export const pageBytesMax = 256 * 1024;

let cached: string | null = null;

export function dashboardPage(): string {
  if (cached === null) {
    const text = readFileSync(new URL("./page.html", import.meta.url), "utf8");
    if (text.length > pageBytesMax) throw new Error(`dashboard page is ${text.length} bytes, over ${pageBytesMax}`);
    cached = text;
  }
  return cached;
}
