// UTF-8 without TextEncoder (not every XS build has it). Invalid sequences
// decode to U+FFFD rather than throwing: strings are data, not control.

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Writes `s` at `pos`; returns the position after it. */
export function utf8Write(s: string, buf: Uint8Array, pos: number): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c & 0x3ff) << 10) + (s.charCodeAt(++i) & 0x3ff);
      buf[pos++] = 0xf0 | (c >> 18);
      buf[pos++] = 0x80 | ((c >> 12) & 63);
      buf[pos++] = 0x80 | ((c >> 6) & 63);
      buf[pos++] = 0x80 | (c & 63);
    } else {
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 63);
      buf[pos++] = 0x80 | (c & 63);
    }
  }
  return pos;
}

export function utf8Encode(s: string): Uint8Array {
  const out = new Uint8Array(utf8Length(s));
  utf8Write(s, out, 0);
  return out;
}

export function utf8Decode(buf: Uint8Array, start = 0, end = buf.length): string {
  let s = "";
  let i = start;
  while (i < end) {
    const b = buf[i++]!;
    let cp = 0xfffd;
    if (b < 0x80) cp = b;
    else if (b >= 0xc2 && b < 0xe0 && i < end && (buf[i]! & 0xc0) === 0x80) {
      cp = ((b & 31) << 6) | (buf[i++]! & 63);
    } else if (b >= 0xe0 && b < 0xf0 && i + 1 < end && (buf[i]! & 0xc0) === 0x80 && (buf[i + 1]! & 0xc0) === 0x80) {
      cp = ((b & 15) << 12) | ((buf[i]! & 63) << 6) | (buf[i + 1]! & 63);
      i += 2;
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    } else if (b >= 0xf0 && b < 0xf5 && i + 2 < end && (buf[i]! & 0xc0) === 0x80 && (buf[i + 1]! & 0xc0) === 0x80 && (buf[i + 2]! & 0xc0) === 0x80) {
      cp = ((b & 7) << 18) | ((buf[i]! & 63) << 12) | ((buf[i + 1]! & 63) << 6) | (buf[i + 2]! & 63);
      i += 3;
      if (cp < 0x10000 || cp > 0x10ffff) cp = 0xfffd;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      s += String.fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else s += String.fromCharCode(cp);
  }
  return s;
}
