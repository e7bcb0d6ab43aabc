/**
 * Activity results too large for a workflow payload: the document is stored as text parts in the
 * source's manifest store and the activity returns their reference, which the workflow reads back
 * part by part (workflows/by-reference.ts `readText`).
 */
import { Context } from '@temporalio/activity';
import type { JsonRef } from '../model';
import { jsonBytes, textBytes, textParts } from '../payload-text';
import type { Ports } from '../ports';

/** Whether `value` leaves an activity result within the workflow's limit: half of it leaves room for what travels beside it. */
export function fitsInline(value: unknown, limit: number | undefined): boolean {
  return limit === undefined || jsonBytes(value) <= limit / 2;
}

/** Stores `value` as JSON text parts under `key` (each within `limit`), heartbeating per part. */
export async function storeJsonParts(ports: Ports, key: string, value: unknown, limit: number): Promise<JsonRef> {
  const text = JSON.stringify(value);
  const parts: string[] = [];
  for (const part of textParts(key, text, limit)) {
    Context.current().heartbeat({ part: part.key });
    parts.push(await ports.manifests.put(part.key, part.text));
  }
  return { parts, bytes: textBytes(text) };
}
