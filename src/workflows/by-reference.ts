/**
 * Large documents by reference: a workflow payload above the inline limit (Temporal warns at
 * 512 KB and fails at 2 MB per payload) is stored as text parts in the manifest store by an
 * activity, and the workflow carries only the reference. Deterministic: the parts depend on the
 * text alone.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JsonRef } from '../model';

/** Payloads up to this size travel inline; larger ones by reference. */
export const DEFAULT_INLINE_BYTES = 256 * 1024;
/** The largest part stored or read in one activity call. */
const MAX_PART_BYTES = 192 * 1024;
/** Room in a part's payload for its key, source name and JSON framing. */
const PART_ENVELOPE_BYTES = 1024;

/** Store and read of one part: short calls, retried, heartbeating. */
const PART_ACTIVITY = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2, maximumAttempts: 10 },
} as const;

/** The inline limit a workflow was given, or the default. */
export function inlineLimit(given: number | undefined): number {
  return given !== undefined && given > 0 ? given : DEFAULT_INLINE_BYTES;
}

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

type PartActivities = Pick<Activities, 'storePayloadPart' | 'readPayloadPart'>;

function partActivities(): PartActivities {
  return proxyActivities<Activities>(PART_ACTIVITY);
}

/**
 * Stores `text` (a JSON document) under `key` in parts no larger than the inline limit, and
 * returns the reference. The parts are written at once; each write is idempotent (same key, same text).
 */
export async function storeText(source: string, key: string, text: string, limit: number): Promise<JsonRef> {
  const acts = partActivities();
  // The part travels with its key and source name: room is left for them.
  const pieces = splitText(text, Math.max(1024, Math.min(limit, MAX_PART_BYTES) - PART_ENVELOPE_BYTES));
  const parts = await Promise.all(
    pieces.map((piece, i) => acts.storePayloadPart({ source, key: `${key}/part-${String(i + 1).padStart(4, '0')}-of-${pieces.length}.json`, text: piece })),
  );
  return { parts, bytes: textBytes(text) };
}

/** Reads a document stored by `storeText`. */
export async function readText<T>(source: string, ref: JsonRef): Promise<T> {
  const acts = partActivities();
  const pieces = await Promise.all(ref.parts.map((part) => acts.readPayloadPart({ source, ref: part })));
  return JSON.parse(pieces.join('')) as T;
}

/** A page of `items` from `offset`: as many as fit in `maxBytes` (at least one), and where the next page starts. */
export function pageOf<T>(items: readonly T[], offset: number, maxBytes: number): { entries: T[]; next?: number; total: number } {
  const start = Math.max(0, Math.floor(offset));
  const entries: T[] = [];
  let bytes = 0;
  let i = start;
  for (; i < items.length; i++) {
    const b = jsonBytes(items[i]);
    if (entries.length > 0 && bytes + b > maxBytes) break;
    entries.push(items[i]!);
    bytes += b;
  }
  return { entries, ...(i < items.length ? { next: i } : {}), total: items.length };
}
