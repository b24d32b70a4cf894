// Storage through Moddable's `preference` module: NVS on ESP32 (one domain, keys
// of at most 15 characters, values as ArrayBuffers, each set atomic), and on
// the lin simulator a JSON file, `modpreferences.json` in config.file.root
// (the process's working directory in our lin build), rewritten whole on
// every set (delete + write: not atomic; a kill in that window loses it).
import Preference from "preference";
import type { Storage } from "../platform";

/** Longest value we store in one NVS entry; outbox records stay far below it. */
export const preferenceValueBytesMax = 4000;

export class PreferenceStorage implements Storage {
  readonly #domain: string;

  constructor(domain = "xsfleet") {
    this.#domain = domain;
  }

  read(key: string): Uint8Array | undefined {
    const v = Preference.get(this.#domain, key);
    return v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
  }

  write(key: string, bytes: Uint8Array): void {
    if (bytes.length > preferenceValueBytesMax) throw new Error(`value for ${key} is ${bytes.length} bytes > ${preferenceValueBytesMax}`);
    const b = bytes.buffer as ArrayBuffer;
    Preference.set(this.#domain, key, bytes.byteOffset === 0 && bytes.byteLength === b.byteLength ? b : b.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  remove(key: string): void {
    Preference.delete(this.#domain, key);
  }

  keys(prefix: string): string[] {
    return Preference.keys(this.#domain).filter((k) => k.startsWith(prefix));
  }
}
