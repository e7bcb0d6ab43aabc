import type { Client } from '@temporalio/client';

/** Sends one query through a workflow handle: `query(name, ...args)`. */
export type SendQuery = (def: string | { name: string }, ...args: unknown[]) => Promise<unknown>;

/**
 * A client whose workflow handles record the name of every query they send.
 * `answer`, when given, may answer a query in place of the handle (return undefined to send it as asked).
 */
export function recordingQueries(
  client: Client,
  answer?: (name: string, send: SendQuery, args: unknown[]) => Promise<unknown> | undefined,
): { client: Client; asked: string[] } {
  const asked: string[] = [];
  const workflow = new Proxy(client.workflow, {
    get(target, prop, receiver) {
      if (prop !== 'getHandle') return Reflect.get(target, prop, receiver);
      return (...args: Parameters<Client['workflow']['getHandle']>) => {
        const handle = target.getHandle(...args);
        return new Proxy(handle, {
          get(h, p, r) {
            if (p !== 'query') return Reflect.get(h, p, r);
            const send = (h.query as SendQuery).bind(h);
            return (def: string | { name: string }, ...rest: unknown[]) => {
              const name = typeof def === 'string' ? def : def.name;
              asked.push(name);
              return answer?.(name, send, rest) ?? send(def, ...rest);
            };
          },
        });
      };
    },
  });
  return { client: new Proxy(client, { get: (c, p, r) => (p === 'workflow' ? workflow : Reflect.get(c, p, r)) }), asked };
}
