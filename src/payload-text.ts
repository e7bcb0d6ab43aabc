/**
 * Sizes of JSON payloads and the cutting of a large document into parts, shared by the
 * workflows (src/workflows/by-reference.ts) and the activities that store documents by
 * reference themselves. Pure functions: safe in the workflow sandbox.
 */

/** The largest part stored or read in one activity call. */
export const MAX_PART_BYTES = 192 * 1024;
/** Room in a part's payload for its key, source name and JSON framing. */
const PART_ENVELOPE_BYTES = 1024;

/** Bytes of `value` as a JSON payload (UTF-8), without building a buffer. */
export function jsonBytes(value: unknown): number {
  return textBytes(JSON.stringify(value) ?? '');
}

/** Bytes of a string once JSON-encoded as a payload: its UTF-8 bytes plus the escapes of quotes and control characters. */
export function textBytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) bytes += charBytes(text.charCodeAt(i));
  return bytes;
}

function charBytes(code: number): number {
  if (code === 0x22 || code === 0x5c) return 2;
  if (code < 0x20) return 6;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  // A surrogate is half of a 4-byte character.
  if (code >= 0xd800 && code <= 0xdfff) return 2;
  return 3;
}

/** Cuts `text` into pieces of at most `maxBytes` payload bytes each, never inside a surrogate pair. */
export function splitText(text: string, maxBytes: number): string[] {
  const parts: string[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const b = charBytes(text.charCodeAt(i));
    if (bytes + b > maxBytes && i > start) {
      // Keep a high surrogate with its low half.
      const cut = isHighSurrogate(text.charCodeAt(i - 1)) && i - 1 > start ? i - 1 : i;
      parts.push(text.slice(start, cut));
      start = cut;
      bytes = 0;
      for (let j = cut; j <= i; j++) bytes += charBytes(text.charCodeAt(j));
      continue;
    }
    bytes += b;
  }
  if (start < text.length || parts.length === 0) parts.push(text.slice(start));
  return parts;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * `text` as the parts stored under `key`: each part's payload (with its key and source name)
 * stays within the inline limit and MAX_PART_BYTES; the parts' texts joined are `text`.
 */
export function textParts(key: string, text: string, limit: number): { key: string; text: string }[] {
  const pieces = splitText(text, Math.max(1024, Math.min(limit, MAX_PART_BYTES) - PART_ENVELOPE_BYTES));
  return pieces.map((piece, i) => ({ key: `${key}/part-${String(i + 1).padStart(4, '0')}-of-${pieces.length}.json`, text: piece }));
}

/**
 * The start of a text longer than `max` characters, saying how much more there is and where the
 * whole text is; a shorter one as it is. Keeps long errors (a Spark stack trace) out of payloads.
 */
export function keptStart(text: string, max: number, where: string): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}... (${text.length - max} characters more; ${where})`;
}
