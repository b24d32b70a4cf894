// A local certificate authority and the broker's server certificate, made
// with Debian's openssl (`xsfleet up --tls`). RSA 2048 and SHA-256: what
// Moddable's TLS (modules/crypt/ssl) verifies on an ESP32 as well as Node.
// The server certificate names every host devices and services dial
// (subjectAltName DNS/IP; Moddable checks the name against the SAN), and
// the file nats-server serves is the chain server + CA: Moddable's verifier
// matches the server certificate's names only while walking a chain of at
// least two certificates (ssl_cert.js verify). Files (0600 keys):
//   ca.pem, ca.der (the CA for clients; DER for the device manifest),
//   ca.key (stays here), server-chain.pem, server.key.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import { X509Certificate } from "node:crypto";

export interface LocalTls {
  dir: string;
  caFile: string;
  caDerFile: string;
  certFile: string;
  keyFile: string;
}

export const localTlsHostsDefault: readonly string[] = Object.freeze(["localhost", "127.0.0.1"]);
const caDays = 3650;
const serverDays = 825;

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? "";
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error("openssl was not found: install it with `sudo apt-get install openssl`");
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (e as Error).message}`);
  }
}

function filesOf(dir: string): LocalTls {
  return {
    dir, caFile: path.join(dir, "ca.pem"), caDerFile: path.join(dir, "ca.der"), certFile: path.join(dir, "server-chain.pem"), keyFile: path.join(dir, "server.key"),
  };
}

/** True when the certificate in `certFile` names every host in `hosts` and is valid for at least another day. */
function covers(certFile: string, hosts: readonly string[]): boolean {
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    if (Date.parse(cert.validTo) < Date.now() + 86_400_000) return false;
    const san = cert.subjectAltName ?? "";
    return hosts.every((h) => san.includes(isIP(h) ? `IP Address:${h}` : `DNS:${h}`));
  } catch {
    return false;
  }
}

/**
 * The CA and server certificate in `dir`: made on first use, kept after;
 * the server certificate is made again (same CA) when it does not name
 * every host in `hosts` or expires within a day.
 */
export function ensureLocalTls(dir: string, hosts: readonly string[] = localTlsHostsDefault): LocalTls {
  for (const h of hosts) if (!/^[A-Za-z0-9.:-]{1,253}$/.test(h)) throw new Error(`TLS host name ${JSON.stringify(h)} is not a DNS name or IP address`);
  const f = filesOf(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(f.caFile) || !existsSync(path.join(dir, "ca.key"))) {
    openssl([
      "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", String(caDays),
      "-subj", "/CN=xsfleet local CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      "-addext", "subjectKeyIdentifier=hash",
    ], dir);
    chmodSync(path.join(dir, "ca.key"), 0o600);
    openssl(["x509", "-in", "ca.pem", "-outform", "der", "-out", "ca.der"], dir);
  }
  if (!existsSync(f.certFile) || !existsSync(f.keyFile) || !covers(f.certFile, hosts)) {
    const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
    writeFileSync(path.join(dir, "server.ext"), [
      `subjectAltName=${san}`, "basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth",
      "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid",
    ].join("\n") + "\n");
    openssl(["req", "-newkey", "rsa:2048", "-sha256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=xsfleet broker"], dir);
    chmodSync(f.keyFile, 0o600);
    openssl([
      "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-sha256", "-days", String(serverDays),
      "-extfile", "server.ext", "-out", "server.pem",
    ], dir);
    writeFileSync(f.certFile, readFileSync(path.join(dir, "server.pem"), "utf8") + readFileSync(f.caFile, "utf8"));
  }
  return f;
}
