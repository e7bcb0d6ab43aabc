/**
 * Activity results too large for a workflow payload: the document is stored as text parts in the
 * source's manifest store and the activity returns their reference, which the workflow reads back
 * part by part (workflows/by-reference.ts `readText`).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { JsonRef } from '../model';
import { jsonBytes, textBytes, textParts } from '../payload-text';
import type { Ports } from '../ports';
import { step } from './deps';

/**
 * `value` stored in parts under `key` when `result` (the activity result that would carry it, by
 * default the value itself) takes more than half the workflow's inline `limit`: the other half
 * leaves room for what travels beside it. Undefined when it travels inline, always so without a
 * limit (an activity scheduled by code older than the limit). `details`: what every heartbeat of the
 * activity must carry beside the part (a recovery's progress, which its next attempt goes on from).
 */
export async function storedIfLarge(
  ports: Ports,
  key: string,
  value: unknown,
  limit: number | undefined,
  result: unknown = value,
  details: () => Record<string, unknown> = () => ({}),
): Promise<JsonRef | undefined> {
  if (limit === undefined || jsonBytes(result) <= limit / 2) return undefined;
  return storeJsonParts(ports, key, value, limit, details);
}

/** Reads back a document of `source` stored by `storedIfLarge`. */
export async function readStored<T>(ports: Ports, source: string, ref: JsonRef): Promise<T> {
  const parts = await Promise.all(ref.parts.map((part) => readTextPart(ports, source, part)));
  return JSON.parse(parts.join('')) as T;
}

/** One stored text part of `source`; anything else there fails for good: the store was changed under it. */
export async function readTextPart(ports: Ports, source: string, ref: string): Promise<string> {
  const text = await step('read', `part ${ref} of source ${source}`, () => ports.manifests.get<unknown>(ref));
  if (typeof text !== 'string') {
    throw ApplicationFailure.create({
      message: `part ${ref} of source ${source} is not a stored text part (found ${text === null ? 'null' : typeof text}): the manifest store was changed under it`,
      type: 'PayloadPartInvalid',
      nonRetryable: true,
    });
  }
  return text;
}

/** Stores `value` as JSON text parts under `key` (each within `limit`), heartbeating per part. */
async function storeJsonParts(ports: Ports, key: string, value: unknown, limit: number, details: () => Record<string, unknown>): Promise<JsonRef> {
  const text = JSON.stringify(value);
  const parts: string[] = [];
  for (const part of textParts(key, text, limit)) {
    Context.current().heartbeat({ ...details(), part: part.key });
    parts.push(await ports.manifests.put(part.key, part.text));
  }
  return { parts, bytes: textBytes(text) };
}
