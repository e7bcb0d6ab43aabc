/** What the checks of `lakesync doctor` take and give. */
import type { LakeFormationMode } from '../aws/required-actions';
import type { AwsSettings } from '../aws/settings';
import type { DoctorClients } from './clients';
import type { PermissionSimulator } from './simulate';

export type CheckStatus = 'ok' | 'FAIL' | 'warn';

/** One line of the report; `--json` prints an array of these. */
export interface CheckResult {
  check: string;
  status: CheckStatus;
  /** What is wrong (FAIL) or worth knowing (warn). */
  problem?: string;
  /** The command or policy statement that fixes it. */
  fix?: string;
}

/** The resolved AWS settings of the source, plus what only the doctor needs. */
export interface DoctorSettings extends AwsSettings {
  namespace: string;
  lakeFormationMode: LakeFormationMode;
  grantPrincipals: string[];
  /** Table loads at once (`concurrency`): each is a Glue run of the source's job. */
  concurrency: number;
  /** The Secrets Manager secret (ARN or name) of `hashKey`, when a column is hashed. */
  hashKeySecret?: string;
  /** RDS sources with `source.catalog`: how the worker logs in to read the source catalog (with or without direct tables). */
  catalog?: { auth: { kind: 'secret'; secretArn: string } | { kind: 'iam' }; user?: string };
}

/** Who runs the doctor, as GetCallerIdentity answered, and the ARN to simulate for it. */
export interface Caller {
  account: string;
  arn: string;
  /** The IAM user or role ARN whose policies apply, or undefined when none can be simulated (root, federated). */
  principalArn?: string;
}

export interface DoctorContext {
  clients: DoctorClients;
  settings: DoctorSettings;
  simulator: PermissionSimulator;
  /** Filled by the credentials check. */
  caller?: Caller;
  /** Filled by the KMS check: the key the alias or id resolves to. */
  key?: { arn: string; id: string };
  /** Role ARNs found missing: their permissions are not simulated again. */
  missingRoles: Set<string>;
  /** Filled by the DynamoDB PITR check: the tables a dynamodb source syncs. */
  dynamoTables?: string[];
  /** Filled by the RDS check: the resource id IAM authentication names, and whether it is enabled. */
  database?: { resourceId?: string; iamAuthEnabled?: boolean };
}

export type Check = (ctx: DoctorContext) => Promise<CheckResult | CheckResult[]>;

export const ok = (check: string): CheckResult => ({ check, status: 'ok' });
export const fail = (check: string, problem: string, fix?: string): CheckResult => ({ check, status: 'FAIL', problem, ...(fix ? { fix } : {}) });
export const warn = (check: string, problem: string, fix?: string): CheckResult => ({ check, status: 'warn', problem, ...(fix ? { fix } : {}) });
