/**
 * Grants to IAM Identity Center users and groups. Lake Formation's ListPermissions refuses an
 * Identity Center user as its Principal filter (InvalidInputException "AccountId cannot be null or
 * empty") and, given both a principal and a resource, answers a group's effective permissions,
 * which are none (a group never runs a query): what such a principal holds is read from the
 * resource's grants, filtered here by principal, as aws-sdk-client-mock answers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchGrantPermissionsCommand, type ListPermissionsCommandInput, ListPermissionsCommand } from '@aws-sdk/client-lakeformation';
import type { GrantRequest } from '../../src/model';
import { READER } from './fixtures';
import { awsError, mockedAws } from './mocks';

const CATALOG = '123456789012:s3tablescatalog/shop-lake';
const IDC_USER = 'arn:aws:identitystore:::user/9067a0b4c2-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d';
const IDC_GROUP = 'arn:aws:identitystore:::group/9067a0b4c2-aaaabbbb-cccc-dddd-eeee-ffff00001111';

function lakeFormation(mocks: ReturnType<typeof mockedAws>['mocks'], holder: string) {
  mocks.lakeformation.on(ListPermissionsCommand).callsFake((input: ListPermissionsCommandInput) => {
    const principal = input.Principal?.DataLakePrincipalIdentifier;
    if (principal?.startsWith('arn:aws:identitystore:::user/')) throw awsError('InvalidInputException', 'AccountId cannot be null or empty');
    if (principal?.startsWith('arn:aws:identitystore:::group/')) return { PrincipalResourcePermissions: [] };
    // The resource's grants: the Identity Center principal holds DESCRIBE on the namespace; another reader holds SELECT on the table.
    if (input.Resource?.Database) {
      return { PrincipalResourcePermissions: [{ Principal: { DataLakePrincipalIdentifier: holder }, Resource: input.Resource, Permissions: ['DESCRIBE'] }] };
    }
    return { PrincipalResourcePermissions: [{ Principal: { DataLakePrincipalIdentifier: READER }, Resource: input.Resource, Permissions: ['SELECT', 'DESCRIBE'] }] };
  });
  mocks.lakeformation.on(BatchGrantPermissionsCommand).resolves({ Failures: [] });
}

const request = (principal: string): GrantRequest => ({ source: 'shop', namespace: 'shop', lakeTables: ['orders'], principals: [{ principal, tablePermissions: ['SELECT', 'DESCRIBE'], namespacePermissions: ['DESCRIBE'] }] });

for (const [kind, principal] of [['user', IDC_USER], ['group', IDC_GROUP]] as const) {
  test(`an IAM Identity Center ${kind} is granted what it lacks, and what it holds counts as granted`, async () => {
    const { mocks, ports } = mockedAws();
    lakeFormation(mocks, principal);
    assert.deepEqual(await ports.grant.grant(request(principal)), { granted: 1, alreadyGranted: 1 });
    const entries = mocks.lakeformation.commandCalls(BatchGrantPermissionsCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    assert.deepEqual(
      entries.map((e) => [e.Principal?.DataLakePrincipalIdentifier, e.Resource, e.Permissions]),
      [[principal, { Table: { CatalogId: CATALOG, DatabaseName: 'shop', Name: 'orders' } }, ['SELECT', 'DESCRIBE']]],
    );
  });
}
