/**
 * GrantPort of the embedded mode: a grant store in grants.json that keeps Lake Formation's
 * request shapes (BatchGrantPermissions entries: Principal, Resource.Database|Table, Permissions),
 * so what the local mode records is what AWS would be asked: DESCRIBE on the namespace always
 * (readers need it), and nothing more where ALL is held, as src/aws/lakeformation.ts asks. Granting is idempotent.
 */
import { PortError } from '../errors';
import { principalsOnce } from '../grant-principals';
import type { GrantOutcome, GrantRequest } from '../model';
import type { GrantPort, GrantRecord } from '../ports';
import { KeyedMutex, readJsonIfExists, writeJsonAtomic } from './files';

export interface LakeFormationResource {
  Database?: { CatalogId: string; Name: string };
  Table?: { CatalogId: string; DatabaseName: string; Name: string };
}

export interface LakeFormationEntry {
  Id: string;
  Principal: { DataLakePrincipalIdentifier: string };
  Resource: LakeFormationResource;
  Permissions: string[];
  PermissionsWithGrantOption: string[];
}

export interface GrantStore {
  catalogId: string;
  entries: LakeFormationEntry[];
}

const DATABASE_PERMISSIONS = new Set(['ALL', 'ALTER', 'CREATE_TABLE', 'DESCRIBE', 'DROP']);
const TABLE_PERMISSIONS = new Set(['ALL', 'ALTER', 'DELETE', 'DESCRIBE', 'DROP', 'INSERT', 'SELECT']);

/** The local stand-in for `<account>:s3tablescatalog/<bucket>`. */
export function localCatalogId(source: string): string {
  return `local:s3tablescatalog/${source}`;
}

function entryId(principal: string, resource: LakeFormationResource): string {
  return resource.Table ? `${principal}|table|${resource.Table.DatabaseName}.${resource.Table.Name}` : `${principal}|database|${resource.Database!.Name}`;
}

const mutex = new KeyedMutex();

export function createGrantPort(
  file: string,
  source: string,
  tableExists: (namespace: string, table: string) => Promise<boolean>,
): GrantPort {
  const catalogId = localCatalogId(source);
  const read = (): GrantStore => readJsonIfExists<GrantStore>(file) ?? { catalogId, entries: [] };

  return {
    async grant(req: GrantRequest): Promise<GrantOutcome> {
      const wanted: Omit<LakeFormationEntry, 'Id'>[] = [];
      for (const p of principalsOnce(req.principals)) {
        if (!p.principal.trim()) throw new PortError('validation', 'InvalidInputException', `grant on ${req.namespace}: a principal is empty; name it in grants[].principal`);
        const badDb = p.namespacePermissions.filter((perm) => !DATABASE_PERMISSIONS.has(perm));
        const badTable = p.tablePermissions.filter((perm) => !TABLE_PERMISSIONS.has(perm));
        if (badDb.length || badTable.length) {
          throw new PortError('validation', 'InvalidInputException', `grant for ${p.principal}: permission(s) ${[...badDb, ...badTable].join(', ')} do not apply to ${badDb.length ? 'a namespace' : 'a table'}`);
        }
        const principal = { DataLakePrincipalIdentifier: p.principal };
        // Readers need DESCRIBE on the namespace: Lake Formation is always asked for it (src/aws/lakeformation.ts).
        const namespacePermissions = [...new Set(['DESCRIBE', ...p.namespacePermissions])];
        wanted.push({ Principal: principal, Resource: { Database: { CatalogId: catalogId, Name: req.namespace } }, Permissions: namespacePermissions, PermissionsWithGrantOption: [] });
        for (const table of req.lakeTables) {
          wanted.push({ Principal: principal, Resource: { Table: { CatalogId: catalogId, DatabaseName: req.namespace, Name: table } }, Permissions: [...new Set(p.tablePermissions)], PermissionsWithGrantOption: [] });
        }
      }
      for (const table of req.lakeTables) {
        if (!(await tableExists(req.namespace, table))) {
          throw new PortError('not-found', 'EntityNotFoundException', `grant on ${req.namespace}.${table} failed: the lake table does not exist (load it first)`);
        }
      }
      return mutex.run(file, () => {
        const store = read();
        const byId = new Map(store.entries.map((e) => [e.Id, e]));
        const outcome: GrantOutcome = { granted: 0, alreadyGranted: 0 };
        for (const w of wanted) {
          const id = entryId(w.Principal.DataLakePrincipalIdentifier, w.Resource);
          const existing = byId.get(id);
          // As in Lake Formation, ALL held covers every permission of the resource.
          const missing = existing?.Permissions.includes('ALL') ? [] : w.Permissions.filter((perm) => !existing?.Permissions.includes(perm));
          if (missing.length === 0) {
            outcome.alreadyGranted += 1;
            continue;
          }
          outcome.granted += 1;
          if (existing) existing.Permissions = [...existing.Permissions, ...missing].sort();
          else {
            const entry = { Id: id, ...w, Permissions: [...w.Permissions].sort() };
            store.entries.push(entry);
            byId.set(id, entry);
          }
        }
        writeJsonAtomic(file, store);
        return outcome;
      });
    },

    async list(): Promise<GrantRecord[]> {
      return read().entries.map((e) => ({
        principal: e.Principal.DataLakePrincipalIdentifier,
        resource: e.Resource.Table ? { namespace: e.Resource.Table.DatabaseName, table: e.Resource.Table.Name } : { namespace: e.Resource.Database!.Name },
        permissions: e.Permissions,
      }));
    },
  };
}
