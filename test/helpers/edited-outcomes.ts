/** Fake ports whose stored cycle outcomes can be changed once written, the changed text still JSON. */
import type { FakeBackend } from '../../src/fake/ports';
import type { Ports } from '../../src/ports';

/** The parts of a cycle's own outcomes (not a batch's): <cycle id>/outcomes/part-NNNN-of-N.json. */
const CYCLE_OUTCOME_PART = /^(\d+-[a-z0-9]+)\/outcomes\/part-\d{4}-of-(\d+)\.json$/;

/**
 * The backend's ports, where after `dropNext(table)` the next cycle outcomes stored by reference
 * lose that table's entry once every part is written (the document still parses). `pending()` says
 * whether that edit is still to come.
 */
export function outcomesEditor(backend: FakeBackend): { ports: Ports; dropNext(table: string): void; pending(): boolean } {
  const base = backend.ports();
  let dropping: string | undefined;
  const ports: Ports = {
    ...base,
    manifests: {
      ...base.manifests,
      put: async (key, value) => {
        const ref = await base.manifests.put(key, value);
        const m = CYCLE_OUTCOME_PART.exec(key);
        if (m && dropping) {
          const prefix = `${m[1]}/outcomes/part-`;
          const keys = Object.keys(backend.state.manifests).filter((k) => k.startsWith(prefix) && k.endsWith(`-of-${m[2]}.json`)).sort();
          if (keys.length === Number(m[2])) {
            const tables = JSON.parse(keys.map((k) => backend.state.manifests[k] as string).join('')) as { table: string }[];
            const edited = JSON.stringify(tables.filter((t) => t.table !== dropping));
            backend.store.update((s) => keys.forEach((k, i) => (s.manifests[k] = i === 0 ? edited : '')));
            dropping = undefined;
          }
        }
        return ref;
      },
    },
  };
  return { ports, dropNext: (table) => (dropping = table), pending: () => dropping !== undefined };
}
