// Runs one bundled module on the real XS engine (xsnap-worker) and prints
// {ok, value|error, meter} as JSON on stdout. It lives in its own process
// because @agoric/xsnap's host side calls SES lockdown() on import.
import '@endo/init';
import { xsnap } from '@agoric/xsnap';
import { spawn } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import tmp from 'tmp';

const [bundlePath] = process.argv.slice(2);
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const inputs = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const prelude = `
globalThis.xsNowMs = () => performance.now();
globalThis.console = globalThis.console || { log: (...a) => print(a.join(' ')), error: (...a) => print(a.join(' ')), warn: (...a) => print(a.join(' ')) };
`;
const dispatcher = `
globalThis.handleCommand = (msg) => {
  const input = JSON.parse(new TextDecoder().decode(msg));
  const out = {};
  const finish = (v) => { out.result = new TextEncoder().encode(JSON.stringify(v)).buffer; };
  const fail = (e) => finish({ ok: false, error: String((e && e.message) || e), stack: String((e && e.stack) || '') });
  try {
    const r = __xsEntry.default(input);
    if (r && typeof r.then === 'function') { r.then((v) => finish({ ok: true, value: v }), fail); return out; }
    finish({ ok: true, value: r });
  } catch (e) { fail(e); }
  return out.result;
};
`;
// bench:footprint swaps in an xsnap-worker whose meter also reports chunks.
const bin = process.env.XSFLEET_XSNAP_BIN;
const spawnWorker = bin ? (_file, args, opts) => spawn(bin, args, opts) : spawn;
const worker = await xsnap({
  os: os.type(), spawn: spawnWorker, fs: { ...fs, ...fsp, tmpName: tmp.tmpName },
  stdout: 'inherit', stderr: 'inherit', name: 'xsfleet-xs',
});
const results = [];
try {
  await worker.evaluate(prelude);
  const load = await worker.evaluate(fs.readFileSync(bundlePath, 'utf8') + dispatcher);
  const loadMeter = load.meterUsage;
  for (const input of inputs) {
    const r = await worker.issueStringCommand(JSON.stringify(input));
    const parsed = JSON.parse(r.reply);
    results.push({ ...parsed, meter: r.meterUsage, loadMeter });
  }
} catch (e) {
  results.push({ ok: false, error: String(e && e.message || e) });
} finally {
  await worker.close().catch(() => {});
}
process.stdout.write('\n@@XSRESULT@@' + JSON.stringify(results) + '\n');
