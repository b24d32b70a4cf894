// Writes the permission table of docs/security.md from the code that issues
// the JWTs (cloud/security/permissions.ts), between its markers:
//   npm run docs:permissions
// test/cloud/security/credentials.test.ts fails when the two differ.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { permissionTableMarkdown } from "../cloud/security";

const file = path.resolve(import.meta.dirname, "..", "docs", "security.md");
const begin = "<!-- permission-table:begin -->";
const end = "<!-- permission-table:end -->";
const doc = readFileSync(file, "utf8");
const a = doc.indexOf(begin);
const b = doc.indexOf(end);
if (a < 0 || b < a) throw new Error(`${file} lacks the ${begin} … ${end} markers`);
writeFileSync(file, `${doc.slice(0, a + begin.length)}\n${permissionTableMarkdown()}${doc.slice(b)}`);
process.stdout.write(`permission table written to ${file}\n`);
