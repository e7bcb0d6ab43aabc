/**
 * Parts of documents too large for a workflow payload (cycle outcomes, the source's carried
 * state): stored and read through the source's manifest store, as text.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { JsonRef } from '../model';
import { type ActivityDeps, findManifest, sourceOf, step } from './deps';
import { readTextPart } from './stored-parts';

/**
 * Where a cancelled source workflow leaves the reference of its stored state: one fixed key per
 * source, so that the next start finds it without knowing the cancelled run.
 */
export const CANCELLED_STATE_KEY = 'source-state/cancelled.json';

export interface PayloadPartWrite {
  source: string;
  /** Manifest key of the part; the same key and text on a retry write the same document. */
  key: string;
  text: string;
}

export interface PayloadPartRead {
  source: string;
  /** The reference `storePayloadPart` returned. */
  ref: string;
}

export interface PayloadPartsDelete {
  source: string;
  /** References `storePayloadPart` returned, of documents already read. */
  refs: string[];
}

export interface CancelledStateMarkerWrite {
  source: string;
  /** The state the cancelled run stored. */
  ref: JsonRef;
}

export interface CancelledStateMarkerQuery {
  source: string;
}

export function payloadActivities(deps: ActivityDeps) {
  return {
    async storePayloadPart(req: PayloadPartWrite): Promise<string> {
      const { ports } = sourceOf(deps, req.source);
      return step('store', `part ${req.key} of source ${req.source}`, () => ports.manifests.put(req.key, req.text));
    },

    /** Deletes parts nothing reads any more; parts already gone count as deleted (a retry). */
    async deletePayloadParts(req: PayloadPartsDelete): Promise<number> {
      const { ports } = sourceOf(deps, req.source);
      for (const ref of req.refs) {
        Context.current().heartbeat({ ref });
        await step('delete', `part ${ref} of source ${req.source}`, () => ports.manifests.delete(ref));
      }
      return req.refs.length;
    },

    async readPayloadPart(req: PayloadPartRead): Promise<string> {
      const { ports } = sourceOf(deps, req.source);
      return readTextPart(ports, req.source, req.ref);
    },

    async storeCancelledStateMarker(req: CancelledStateMarkerWrite): Promise<void> {
      const { ports } = sourceOf(deps, req.source);
      await step('store', `the cancelled state marker of source ${req.source}`, () => ports.manifests.put(CANCELLED_STATE_KEY, req.ref));
    },

    /** The state a cancelled run left for the next start, if any. */
    async readCancelledStateMarker(req: CancelledStateMarkerQuery): Promise<JsonRef | undefined> {
      const { ports } = sourceOf(deps, req.source);
      const found = await step('read', `the cancelled state marker of source ${req.source}`, () => findManifest<unknown>(ports, CANCELLED_STATE_KEY));
      if (found === undefined) return undefined;
      if (!isJsonRef(found)) {
        throw ApplicationFailure.create({
          message: `${CANCELLED_STATE_KEY} of source ${req.source} holds no state reference: the manifest store was changed under it; delete it to start the source afresh`,
          type: 'CancelledStateMarkerInvalid',
          nonRetryable: true,
        });
      }
      return found;
    },

    /** Once read, the marker goes: a later start must not resume that state again. Already gone counts as deleted. */
    async deleteCancelledStateMarker(req: CancelledStateMarkerQuery): Promise<void> {
      const { ports } = sourceOf(deps, req.source);
      await step('delete', `the cancelled state marker of source ${req.source}`, () => ports.manifests.delete(ports.manifests.ref(CANCELLED_STATE_KEY)));
    },
  };
}

function isJsonRef(value: unknown): value is JsonRef {
  const ref = value as Partial<JsonRef> | null;
  return typeof ref === 'object' && ref !== null && Array.isArray(ref.parts) && ref.parts.every((p) => typeof p === 'string') && typeof ref.bytes === 'number';
}
