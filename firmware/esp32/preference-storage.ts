// Storage on ESP32 NVS through Moddable's `preference` module: one domain,
// keys of at most 15 characters (the NVS limit), values as ArrayBuffers.
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
