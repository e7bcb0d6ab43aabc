/**
 * Parts of documents too large for a workflow payload (cycle outcomes, the source's carried
 * state): stored and read through the source's manifest store, as text.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type ActivityDeps, sourceOf, step } from './deps';

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
      const text = await step('read', `part ${req.ref} of source ${req.source}`, () => ports.manifests.get<unknown>(req.ref));
      if (typeof text !== 'string') {
        throw ApplicationFailure.create({
          message: `part ${req.ref} of source ${req.source} is not a stored text part (found ${text === null ? 'null' : typeof text}): the manifest store was changed under it`,
          type: 'PayloadPartInvalid',
          nonRetryable: true,
        });
      }
      return text;
    },
  };
}
