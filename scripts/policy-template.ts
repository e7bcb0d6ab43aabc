/**
 * The IAM policies of infra/lakesync.yaml as plain JSON. The template is their one source:
 * docs/aws-setup.md shows them with placeholders (scripts/policy-docs.ts writes those blocks) and
 * the tests resolve them with real values to compare with what a deployment created.
 *
 * Only what the template uses is resolved: Ref, Fn::Sub, Fn::GetAtt, Fn::If, Fn::Join, Fn::Equals,
 * Fn::Not, Fn::And, Fn::Or, Condition and AWS::NoValue. Anything else is an error, so a template
 * change the resolver does not understand cannot slip into the docs unnoticed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../src/toolchain';

export const TEMPLATE_FILE = join('infra', 'lakesync.yaml');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface TemplateResource {
  Type: string;
  Condition?: string;
  Properties?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Template {
  Parameters: Record<string, { Type: string; Default?: string | number }>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, TemplateResource>;
  Outputs: Record<string, { Description?: string; Value: unknown }>;
  [key: string]: unknown;
}

export function templateText(root = repoRoot()): string {
  return readFileSync(join(root, TEMPLATE_FILE), 'utf8');
}

export function loadTemplate(root = repoRoot()): Template {
  return parseYaml(templateText(root)) as Template;
}

/** Each policy block of docs/aws-setup.md: the template resource and the property holding it. */
export const POLICY_SOURCES: Record<string, { resource: string; property: string }> = {
  worker: { resource: 'WorkerPolicy', property: 'PolicyDocument' },
  doctor: { resource: 'DoctorPolicy', property: 'PolicyDocument' },
  'export-trust': { resource: 'ExportRole', property: 'AssumeRolePolicyDocument' },
  export: { resource: 'ExportRolePolicy', property: 'PolicyDocument' },
  'glue-trust': { resource: 'GlueRole', property: 'AssumeRolePolicyDocument' },
  glue: { resource: 'GlueRolePolicy', property: 'PolicyDocument' },
  'kms-key': { resource: 'ExportKey', property: 'KeyPolicy' },
  'table-bucket-readers': { resource: 'ReaderTableBucketPolicy', property: 'ResourcePolicy' },
  'lakeformation-data-access-trust': { resource: 'LakeFormationDataAccessRole', property: 'AssumeRolePolicyDocument' },
};

/** How intrinsic functions resolve: the values of Ref and Fn::GetAtt, and which branch of Fn::If counts. */
export interface ResolveContext {
  ref(name: string): Json;
  getAtt(resource: string, attribute: string): Json;
  /** 'both' keeps both branches of an Fn::If (the docs show optional statements with a note). */
  condition(name: string): boolean | 'both';
}

const NO_VALUE = Symbol('AWS::NoValue');
type Resolved = Json | typeof NO_VALUE;

export function resolve(node: unknown, ctx: ResolveContext): Json {
  const value = resolveNode(node, ctx, '');
  if (value === NO_VALUE) throw new Error('the node resolves to AWS::NoValue');
  return value;
}

function resolveNode(node: unknown, ctx: ResolveContext, at: string): Resolved {
  if (node === null || typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean') return node;
  if (Array.isArray(node)) return node.map((item, i) => resolveNode(item, ctx, `${at}[${i}]`)).filter((item): item is Json => item !== NO_VALUE);
  if (typeof node !== 'object') throw new Error(`${at}: unexpected ${typeof node}`);
  const entries = Object.entries(node as Record<string, unknown>);
  if (entries.length === 1 && (entries[0]![0] === 'Ref' || entries[0]![0].startsWith('Fn::'))) return intrinsic(entries[0]![0], entries[0]![1], ctx, at);
  const out: Record<string, Json> = {};
  for (const [key, child] of entries) {
    const value = resolveNode(child, ctx, `${at}.${key}`);
    if (value !== NO_VALUE) out[key] = value;
  }
  return out;
}

function intrinsic(fn: string, arg: unknown, ctx: ResolveContext, at: string): Resolved {
  switch (fn) {
    case 'Ref':
      return arg === 'AWS::NoValue' ? NO_VALUE : ctx.ref(String(arg));
    case 'Fn::GetAtt': {
      const [resource, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
      return ctx.getAtt(resource!, attribute!);
    }
    case 'Fn::Sub':
      return substitute(arg, ctx, at);
    case 'Fn::Join': {
      const [separator, items] = arg as [string, unknown];
      const list = resolveNode(items, ctx, at);
      if (!Array.isArray(list)) throw new Error(`${at}: Fn::Join needs a list`);
      return list.map(String).join(separator);
    }
    case 'Fn::If': {
      const [name, whenTrue, whenFalse] = arg as [string, unknown, unknown];
      const chosen = ctx.condition(name);
      if (chosen !== 'both') return resolveNode(chosen ? whenTrue : whenFalse, ctx, at);
      return bothBranches(resolveNode(whenTrue, ctx, at), resolveNode(whenFalse, ctx, at), name, at);
    }
    case 'Fn::Equals': {
      const [a, b] = (arg as unknown[]).map((x) => resolveNode(x, ctx, at));
      return JSON.stringify(a) === JSON.stringify(b);
    }
    case 'Fn::Not':
      return !truth((arg as unknown[])[0], ctx, at);
    case 'Fn::And':
      return (arg as unknown[]).every((x) => truth(x, ctx, at));
    case 'Fn::Or':
      return (arg as unknown[]).some((x) => truth(x, ctx, at));
    default:
      throw new Error(`${at}: ${fn} is not supported by scripts/policy-template.ts`);
  }
}

/** The docs show both branches: an optional part (the other branch is AWS::NoValue), or both lists. */
function bothBranches(a: Resolved, b: Resolved, name: string, at: string): Resolved {
  if (b === NO_VALUE) return a;
  if (a === NO_VALUE) return b;
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  throw new Error(`${at}: Fn::If ${name} has two values that cannot both be shown`);
}

function truth(node: unknown, ctx: ResolveContext, at: string): boolean {
  if (node && typeof node === 'object' && 'Condition' in node) {
    const value = ctx.condition(String((node as { Condition: unknown }).Condition));
    if (value === 'both') throw new Error(`${at}: a condition of both branches cannot be combined`);
    return value;
  }
  const value = resolveNode(node, ctx, at);
  if (typeof value !== 'boolean') throw new Error(`${at}: a condition function must give true or false`);
  return value;
}

function substitute(arg: unknown, ctx: ResolveContext, at: string): string {
  const [text, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
  return text.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => {
    if (literal) return `\${${name}}`;
    if (name in vars) return String(resolveNode(vars[name], ctx, at));
    if (name.includes('.') && !name.startsWith('AWS::')) {
      const [resource, attribute] = name.split('.');
      return String(ctx.getAtt(resource!, attribute!));
    }
    return String(ctx.ref(name));
  });
}

/** A context for real values: parameters (the template's defaults filled in), pseudo parameters, resources. */
export function valuesContext(template: Template, values: { parameters: Record<string, string>; refs: Record<string, Json>; getAtts: Record<string, Json> }): ResolveContext {
  const parameters: Record<string, Json> = {};
  for (const [name, spec] of Object.entries(template.Parameters)) {
    const raw = values.parameters[name] ?? (spec.Default === undefined ? undefined : String(spec.Default));
    if (raw === undefined) continue;
    parameters[name] = spec.Type === 'CommaDelimitedList' ? (raw === '' ? [''] : raw.split(',')) : raw;
  }
  const cache = new Map<string, boolean>();
  const ctx: ResolveContext = {
    ref: (name) => {
      const value = name in parameters ? parameters[name] : values.refs[name];
      if (value === undefined) throw new Error(`no value for Ref ${name}`);
      return value!;
    },
    getAtt: (resource, attribute) => {
      const value = values.getAtts[`${resource}.${attribute}`];
      if (value === undefined) throw new Error(`no value for Fn::GetAtt ${resource}.${attribute}`);
      return value;
    },
    condition: (name) => {
      if (!cache.has(name)) {
        if (!(name in template.Conditions)) throw new Error(`no condition ${name}`);
        cache.set(name, truth(template.Conditions[name], ctx, `Conditions.${name}`));
      }
      return cache.get(name)!;
    },
  };
  return ctx;
}

/**
 * The placeholders of docs/aws-setup.md. Every parameter and resource a policy names needs one
 * here: a new one fails the resolution until it is given a placeholder.
 */
const DOCS_REFS: Record<string, Json> = {
  'AWS::AccountId': 'ACCOUNT',
  'AWS::Region': 'REGION',
  'AWS::Partition': 'aws',
  ResourcePrefix: 'lakesync',
  DBInstanceId: 'INSTANCE',
  DBClusterId: 'CLUSTER',
  TableBucketName: 'TABLE_BUCKET',
  ExportBucketName: 'EXPORT_BUCKET',
  ExportPrefix: 'EXPORT_PREFIX',
  GlueJobNamePrefix: 'lakesync-load',
  ReaderPrincipalArns: ['READER_ARN'],
  CatalogSecretArn: 'CATALOG_SECRET_ARN',
  CatalogDbUser: 'DB_USER',
  HashKeySecretArn: 'HASH_KEY_SECRET_ARN',
  GlueConnectionName: 'GLUE_CONNECTION',
  SslRootCertObject: 'SSL_ROOT_CERT',
  DynamoDBTables: 'DYNAMODB_TABLES',
  DynamoDBExportPrefix: 'DYNAMODB_EXPORT_PREFIX',
  DynamoDBRegion: 'DYNAMODB_REGION',
  ArtifactBucket: 'SCRIPT_BUCKET',
};

const DOCS_GETATTS: Record<string, Json> = {
  'ExportKey.Arn': 'arn:aws:kms:REGION:ACCOUNT:key/KEY_ID',
  'ExportRole.Arn': 'arn:aws:iam::ACCOUNT:role/lakesync-export',
  'GlueRole.Arn': 'arn:aws:iam::ACCOUNT:role/lakesync-glue',
  'TableBucket.TableBucketARN': 'arn:aws:s3tables:REGION:ACCOUNT:bucket/TABLE_BUCKET',
};

export const docsContext: ResolveContext = {
  ref: (name) => {
    if (!(name in DOCS_REFS)) throw new Error(`docs/aws-setup.md has no placeholder for Ref ${name}: add one to DOCS_REFS in scripts/policy-template.ts`);
    return DOCS_REFS[name]!;
  },
  getAtt: (resource, attribute) => {
    const key = `${resource}.${attribute}`;
    if (!(key in DOCS_GETATTS)) throw new Error(`docs/aws-setup.md has no placeholder for Fn::GetAtt ${key}: add one to DOCS_GETATTS in scripts/policy-template.ts`);
    return DOCS_GETATTS[key]!;
  },
  condition: () => 'both',
};

/** The policy document `name` (a key of POLICY_SOURCES), resolved in `ctx`. */
export function templatePolicy(template: Template, name: string, ctx: ResolveContext): Json {
  const source = POLICY_SOURCES[name];
  if (!source) throw new Error(`no policy ${name} in POLICY_SOURCES`);
  const resource = template.Resources[source.resource];
  if (!resource?.Properties || !(source.property in resource.Properties)) throw new Error(`${TEMPLATE_FILE} has no ${source.resource}.Properties.${source.property}`);
  return resolve(resource.Properties[source.property], ctx);
}

/** Every policy of the template with the docs' placeholders. */
export function docsPolicies(template = loadTemplate()): Record<string, Json> {
  return Object.fromEntries(Object.keys(POLICY_SOURCES).map((name) => [name, templatePolicy(template, name, docsContext)]));
}
