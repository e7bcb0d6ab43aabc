/**
 * The IAM action each SDK command needs. Error messages name it, and docs/aws-setup.md's
 * policies are checked against it (test/aws/policies.test.ts).
 */

/** IAM service prefix per SDK client. */
export const IAM_PREFIX = {
  RDS: 'rds',
  S3: 's3',
  Glue: 'glue',
  S3Tables: 's3tables',
  LakeFormation: 'lakeformation',
  Athena: 'athena',
  DynamoDB: 'dynamodb',
} as const;

export type AwsService = keyof typeof IAM_PREFIX;

/** S3 operations whose IAM action has another name. */
const S3_ACTIONS: Record<string, string> = {
  ListObjectsV2: 's3:ListBucket',
  HeadObject: 's3:GetObject',
  HeadBucket: 's3:ListBucket',
  DeleteObjects: 's3:DeleteObject',
};

export function iamActionFor(service: AwsService, operation: string): string {
  if (service === 'S3') return S3_ACTIONS[operation] ?? `s3:${operation}`;
  return `${IAM_PREFIX[service]}:${operation}`;
}
