/**
 * Lake Formation: the configured principals get DESCRIBE (and the configured namespace
 * permissions) on the namespace and their table permissions on the loaded tables, on the
 * S3 Tables catalog `<account>:s3tablescatalog/<bucket>`. In Lake Formation mode the Glue job
 * role gets its permissions on a namespace lakesync creates. A permission already held counts
 * as granted; a refusal names the principal and what it could not get.
 */
import {
  BatchGrantPermissionsCommand,
  type BatchPermissionsRequestEntry,
  type LakeFormationClient,
  ListPermissionsCommand,
  type Permission,
  type Resource,
} from '@aws-sdk/client-lakeformation';
import { PortError } from '../errors';
import { principalsOnce } from '../grant-principals';
import type { GrantOutcome, GrantRequest } from '../model';
import type { GrantPort } from '../ports';
import { awsErrorKind, toPortError } from './errors';
import { type AwsSettings, s3TablesCatalogId } from './settings';

/** BatchGrantPermissions takes at most 20 entries. */
const BATCH_LIMIT = 20;

interface WantedGrant {
  principal: string;
  resource: Resource;
  label: string;
  permissions: Permission[];
}

export class LakeFormationGrants implements GrantPort {
  constructor(
    private readonly lakeformation: LakeFormationClient,
    private readonly settings: Pick<AwsSettings, 'accountId' | 'tableBucket'> & { glue: Pick<AwsSettings['glue'], 'roleArn'> },
  ) {}

  /**
   * What the Glue job role needs on a namespace lakesync created, so that the load job can create
   * and write its tables: DESCRIBE and CREATE_TABLE on the namespace (a Lake Formation database),
   * ALL on its tables (TableWildcard: writers need full table access in Glue 5.0).
   */
  async grantJobRole(namespace: string): Promise<GrantOutcome> {
    const catalogId = s3TablesCatalogId(this.settings);
    const role = this.settings.glue.roleArn;
    return this.ensure(
      [
        { principal: role, resource: { Database: { CatalogId: catalogId, Name: namespace } }, label: `namespace ${namespace}`, permissions: ['DESCRIBE', 'CREATE_TABLE'] },
        { principal: role, resource: { Table: { CatalogId: catalogId, DatabaseName: namespace, TableWildcard: {} } }, label: `every table of namespace ${namespace}`, permissions: ['ALL'] },
      ],
      catalogId,
    );
  }

  async grant(req: GrantRequest): Promise<GrantOutcome> {
    const catalogId = s3TablesCatalogId(this.settings);
    const wanted: WantedGrant[] = [];
    // A principal listed twice gets one grant per resource, with the permissions of both entries.
    for (const p of principalsOnce(req.principals)) {
      wanted.push({
        principal: p.principal,
        resource: { Database: { CatalogId: catalogId, Name: req.namespace } },
        label: `namespace ${req.namespace}`,
        permissions: unique(['DESCRIBE', ...p.namespacePermissions]) as Permission[],
      });
      for (const table of req.lakeTables) {
        wanted.push({
          principal: p.principal,
          resource: { Table: { CatalogId: catalogId, DatabaseName: req.namespace, Name: table } },
          label: `table ${req.namespace}.${table}`,
          permissions: unique(p.tablePermissions) as Permission[],
        });
      }
    }
    return this.ensure(wanted, catalogId);
  }

  /** Grants what the principals lack of `wanted`; what they hold already counts as granted. */
  private async ensure(wanted: WantedGrant[], catalogId: string): Promise<GrantOutcome> {
    let alreadyGranted = 0;
    const missing: WantedGrant[] = [];
    for (const grant of wanted) {
      const held = await this.heldPermissions(grant, catalogId);
      const lacking = grant.permissions.filter((perm) => !held.has(perm) && !held.has('ALL'));
      if (lacking.length === 0) alreadyGranted++;
      else missing.push({ ...grant, permissions: lacking });
    }
    for (let i = 0; i < missing.length; i += BATCH_LIMIT) await this.batchGrant(missing.slice(i, i + BATCH_LIMIT), catalogId);
    return { granted: missing.length, alreadyGranted };
  }

  private async heldPermissions(grant: WantedGrant, catalogId: string): Promise<Set<string>> {
    const held = new Set<string>();
    let token: string | undefined;
    do {
      let page;
      try {
        // An IAM Identity Center principal is read from the resource's grants: ListPermissions refuses an Identity Center
        // user as its Principal filter, and answers a group's effective permissions, which are none (a group never runs a query).
        const byPrincipal = identityCenter(grant.principal) ? {} : { Principal: { DataLakePrincipalIdentifier: grant.principal } };
        page = await this.lakeformation.send(new ListPermissionsCommand({ ...byPrincipal, Resource: grant.resource, ...(token ? { NextToken: token } : {}) }));
      } catch (err) {
        const subject = `${grant.label} for ${grant.principal}`;
        const hint = grantHint(awsErrorKind(err), grant, catalogId);
        throw toPortError(err, { service: 'LakeFormation', operation: 'ListPermissions', subject, ...(hint ? { hint } : {}) });
      }
      for (const entry of page.PrincipalResourcePermissions ?? []) {
        if (entry.Principal?.DataLakePrincipalIdentifier !== grant.principal) continue;
        // SELECT on some columns only is not the table's SELECT: counting it would leave the grant out.
        if (someColumnsOnly(entry.Resource)) continue;
        for (const perm of entry.Permissions ?? []) held.add(perm);
      }
      token = page.NextToken;
    } while (token);
    return held;
  }

  private async batchGrant(grants: WantedGrant[], catalogId: string): Promise<void> {
    const entries: BatchPermissionsRequestEntry[] = grants.map((g, i) => ({
      Id: String(i),
      Principal: { DataLakePrincipalIdentifier: g.principal },
      Resource: g.resource,
      Permissions: g.permissions,
    }));
    let out;
    try {
      out = await this.lakeformation.send(new BatchGrantPermissionsCommand({ Entries: entries }));
    } catch (err) {
      const first = grants[0]!;
      const subject = grants.length === 1 ? `${first.permissions.join(', ')} on ${first.label} to ${first.principal}` : `${grants.length} grants (${first.principal}, ...)`;
      const hint = grants.length === 1 ? grantHint(awsErrorKind(err), first, catalogId) : awsErrorKind(err) === 'access-denied' ? adminHint(catalogId) : awsErrorKind(err) === 'validation' ? 'check grants[] in lakesync.yaml' : undefined;
      throw toPortError(err, { service: 'LakeFormation', operation: 'BatchGrantPermissions', subject, ...(hint ? { hint } : {}) });
    }
    for (const failure of out.Failures ?? []) {
      const code = failure.Error?.ErrorCode ?? 'GrantFailed';
      if (/AlreadyExists/i.test(code)) continue;
      const grant = grants[Number(failure.RequestEntry?.Id ?? 0)] ?? grants[0]!;
      // The same codes as a call's own errors: a concurrent change or an internal error is retried, not a failed table.
      const kind = awsErrorKind({ name: code });
      const fix =
        kind === 'transient' || kind === 'throttled' ? 'a temporary Lake Formation condition; the step is retried with backoff' : (grantHint(kind, grant, catalogId) ?? 'check grants[] in lakesync.yaml');
      throw new PortError(
        kind,
        code,
        `Lake Formation could not grant ${grant.permissions.join(', ')} on ${grant.label} (catalog ${catalogId}) to ${grant.principal}: ${code}: ${failure.Error?.ErrorMessage ?? 'no message'} (${fix})`,
      );
    }
  }
}

/** An IAM Identity Center user or group (arn:aws:identitystore:::user/<id>, group/<id>). */
function identityCenter(principal: string): boolean {
  return /^arn:aws(-[a-z]+)*:identitystore:/.test(principal);
}

/** A column-level grant that names its columns, or excludes some, covers less than the table. */
function someColumnsOnly(resource: Resource | undefined): boolean {
  const columns = resource?.TableWithColumns;
  if (!columns) return false;
  return (columns.ColumnNames?.length ?? 0) > 0 || (columns.ColumnWildcard?.ExcludedColumnNames?.length ?? 0) > 0 || !columns.ColumnWildcard;
}

/** What to do when Lake Formation refuses a grant, or a read of what a principal holds, as `kind`; undefined when the general fix applies. */
function grantHint(kind: string, grant: WantedGrant, catalogId: string): string | undefined {
  if (kind === 'access-denied') return adminHint(catalogId);
  if (kind === 'not-found') return `the principal or the ${grant.label} does not exist in catalog ${catalogId}: check grants[].principal and that the table was loaded`;
  // The principal comes from grants[], the resource from the namespace and the loaded table: not from the aws section.
  if (kind === 'validation') return `Lake Formation refused the principal or the ${grant.label} in catalog ${catalogId}: check grants[].principal and its permissions in lakesync.yaml`;
  return undefined;
}

function adminHint(catalogId: string): string {
  return `the principal lakesync runs as must be a Lake Formation data lake administrator, or hold the permissions with grant option, on catalog ${catalogId} (docs/aws-setup.md)`;
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}
