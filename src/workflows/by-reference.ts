/**
 * Large documents by reference: a workflow payload above the inline limit (Temporal warns at
 * 512 KB and fails at 2 MB per payload) is stored as text parts in the manifest store by an
 * activity, and the workflow carries only the reference. Deterministic: the parts depend on the
 * text alone.
 */
import { ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JsonRef } from '../model';
import { jsonBytes, textBytes, textParts } from '../payload-text';

/**
 * Patch: a stored document whose parts no longer join to the size its reference records (a part
 * changed, cut or swapped in the manifest store) is refused, not read as it is. Asked only of such a
 * document, so other histories record no marker.
 */
const STORED_SIZE_CHECKED = 'stored-document-size-checked';

/** Payloads up to this size travel inline; larger ones by reference. */
export const DEFAULT_INLINE_BYTES = 256 * 1024;

/** Store, read and delete of parts: short calls, retried, heartbeating. */
const PART_ACTIVITY = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2, maximumAttempts: 10 },
} as const;

/** The inline limit a workflow was given, or the default. */
export function inlineLimit(given: number | undefined): number {
  return given !== undefined && given > 0 ? given : DEFAULT_INLINE_BYTES;
}

type PartActivities = Pick<
  Activities,
  'storePayloadPart' | 'readPayloadPart' | 'deletePayloadParts' | 'storeCancelledStateMarker' | 'readCancelledStateMarker' | 'deleteCancelledStateMarker'
>;

function partActivities(): PartActivities {
  return proxyActivities<Activities>(PART_ACTIVITY);
}

/**
 * Stores `text` (a JSON document) under `key` in parts no larger than the inline limit, and
 * returns the reference. The parts are written at once; each write is idempotent (same key, same text).
 */
export async function storeText(source: string, key: string, text: string, limit: number): Promise<JsonRef> {
  const acts = partActivities();
  const parts = await Promise.all(textParts(key, text, limit).map((part) => acts.storePayloadPart({ source, ...part })));
  return { parts, bytes: textBytes(text) };
}

/** Deletes the parts of documents stored by `storeText` (or an activity) once nothing reads them any more. */
export async function deleteTexts(source: string, refs: JsonRef[]): Promise<void> {
  const parts = refs.flatMap((ref) => ref.parts);
  if (parts.length > 0) await partActivities().deletePayloadParts({ source, refs: parts });
}

/**
 * Reads a document stored by `storeText` (or an activity). Parts that no longer join to the
 * document's recorded size were changed in the manifest store: the document is refused, saying so.
 */
export async function readText<T>(source: string, ref: JsonRef): Promise<T> {
  const acts = partActivities();
  const pieces = await Promise.all(ref.parts.map((part) => acts.readPayloadPart({ source, ref: part })));
  const text = pieces.join('');
  const bytes = textBytes(text);
  if (bytes !== ref.bytes && patched(STORED_SIZE_CHECKED)) {
    throw ApplicationFailure.nonRetryable(
      `the document of source ${source} stored in ${ref.parts.length} part(s) (first ${ref.parts[0] ?? 'none'}) holds ${bytes} bytes, not the ${ref.bytes} it was stored with: its parts were changed in the manifest store`,
      'StoredDocumentChanged',
    );
  }
  return JSON.parse(text) as T;
}

/** Leaves `ref`, the state a cancelled source workflow stored, for the source's next start. */
export async function markCancelledState(source: string, ref: JsonRef): Promise<void> {
  await partActivities().storeCancelledStateMarker({ source, ref });
}

/** The state a cancelled run of the source left, if any. */
export async function cancelledState(source: string): Promise<JsonRef | undefined> {
  return partActivities().readCancelledStateMarker({ source });
}

/** Forgets the state a cancelled run left, once it is read. */
export async function forgetCancelledState(source: string): Promise<void> {
  await partActivities().deleteCancelledStateMarker({ source });
}

/**
 * A page of `items` from `offset`: as many as fit in `maxBytes` (at least one), and where the next
 * page starts. `as` gives the entry answered for an item (only the page's items are read).
 */
export function pageOf<T>(items: readonly T[], offset: number, maxBytes: number): { entries: T[]; next?: number; total: number };
export function pageOf<T, U>(items: readonly T[], offset: number, maxBytes: number, as: (item: T) => U): { entries: U[]; next?: number; total: number };
export function pageOf<T, U>(items: readonly T[], offset: number, maxBytes: number, as?: (item: T) => U): { entries: (T | U)[]; next?: number; total: number } {
  // A query may come without an offset (or with null): that is the first page, not an empty one.
  const start = typeof offset === 'number' && Number.isFinite(offset) ? Math.max(0, Math.floor(offset)) : 0;
  const entries: (T | U)[] = [];
  let bytes = 0;
  let i = start;
  for (; i < items.length; i++) {
    const entry = as ? as(items[i]!) : items[i]!;
    const b = jsonBytes(entry);
    if (entries.length > 0 && bytes + b > maxBytes) break;
    entries.push(entry);
    bytes += b;
  }
  return { entries, ...(i < items.length ? { next: i } : {}), total: items.length };
}
