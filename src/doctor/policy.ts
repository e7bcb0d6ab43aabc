/**
 * IAM policy documents as the doctor reads them: parsing (IAM returns documents URL-encoded,
 * RFC 3986), the trust question "may this service assume the role", who a key policy names,
 * and a small evaluator of identity policies for endpoints without SimulatePrincipalPolicy.
 *
 * The evaluator covers what lakesync's policies use: Allow/Deny, Action/NotAction,
 * Resource/NotResource with * and ? wildcards, and the String and Arn condition operators
 * (with IfExists, and the ForAllValues/ForAnyValue set qualifiers) on the context keys it is
 * given. A condition it cannot evaluate (another operator) makes the statement count as not
 * applying, and the result says so (`uncertain`).
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  NotResource?: string[];
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocument {
  Statement: PolicyStatement[];
}

export class PolicyParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyParseError';
  }
}

/** Parses a policy document as IAM returns it (URL-encoded) or as written (plain JSON). */
export function parsePolicyDocument(raw: string | undefined, what: string): PolicyDocument {
  if (!raw) throw new PolicyParseError(`${what} is empty`);
  let text = raw.trim();
  if (!text.startsWith('{')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      throw new PolicyParseError(`${what} is neither JSON nor URL-encoded JSON`);
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyParseError(`${what} is not valid JSON`);
  }
  const statements = (doc as { Statement?: unknown } | null)?.Statement;
  if (statements === undefined) throw new PolicyParseError(`${what} has no Statement`);
  const list = Array.isArray(statements) ? statements : [statements];
  return { Statement: list.map((s, i) => normaliseStatement(s, `${what}, statement ${i + 1}`)) };
}

function normaliseStatement(raw: unknown, what: string): PolicyStatement {
  const s = (raw ?? {}) as Record<string, unknown>;
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyParseError(`${what} has Effect ${JSON.stringify(s.Effect)}, not Allow or Deny`);
  const out: PolicyStatement = { Effect: s.Effect };
  if (typeof s.Sid === 'string') out.Sid = s.Sid;
  for (const key of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) {
    if (s[key] !== undefined) out[key] = asStrings(s[key]);
  }
  if (s.Principal !== undefined) out.Principal = s.Principal;
  if (s.NotPrincipal !== undefined) out.NotPrincipal = s.NotPrincipal;
  if (s.Condition !== undefined) out.Condition = s.Condition as PolicyStatement['Condition'];
  return out;
}

function asStrings(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** IAM wildcards: * any run of characters, ? one character. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

export function actionMatches(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => wildcard(p, action, true));
}

function resourceMatches(patterns: readonly string[], resource: string): boolean {
  return patterns.some((p) => wildcard(p, resource, false));
}

/** The principals of a statement: `"*"`, or `{ AWS, Service, Federated }` with one or several values. */
function principalValues(principal: unknown, kind: 'AWS' | 'Service'): string[] {
  if (principal === '*') return ['*'];
  if (!principal || typeof principal !== 'object') return [];
  const value = (principal as Record<string, unknown>)[kind];
  return value === undefined ? [] : asStrings(value);
}

function coversAction(s: PolicyStatement, action: string): boolean {
  if (s.Action) return actionMatches(s.Action, action);
  if (s.NotAction) return !actionMatches(s.NotAction, action);
  return false;
}

/**
 * The services a trust policy lets assume the role (Allow sts:AssumeRole, no Deny). With `known`
 * context (e.g. the account as aws:SourceAccount, which a service carries when it assumes the role
 * for it), a statement whose condition on those keys fails does not apply; its conditions on other
 * keys (aws:SourceArn, ...) are not judged. Without it, conditions are ignored.
 */
export function trustedServices(doc: PolicyDocument, known: Record<string, string[]> = {}): string[] {
  const allowed = new Set<string>();
  const denied = new Set<string>();
  for (const s of doc.Statement) {
    if (!coversAction(s, 'sts:AssumeRole')) continue;
    if (conditionHolds(conditionOn(s.Condition, Object.keys(known)), known) === false) continue;
    for (const service of principalValues(s.Principal, 'Service')) (s.Effect === 'Allow' ? allowed : denied).add(service);
  }
  return [...allowed].filter((service) => !denied.has(service));
}

/** The values the Allow statements for `service` of a trust policy test the condition key `key` against. */
export function trustConditionValues(doc: PolicyDocument, service: string, key: string): string[] {
  const values = new Set<string>();
  for (const s of doc.Statement) {
    if (s.Effect !== 'Allow' || !coversAction(s, 'sts:AssumeRole') || !principalValues(s.Principal, 'Service').includes(service)) continue;
    for (const entries of Object.values(conditionOn(s.Condition, [key]) ?? {})) for (const value of Object.values(entries)) for (const v of asStrings(value)) values.add(v);
  }
  return [...values];
}

/** The part of a condition that tests the given keys (condition keys are case-insensitive). */
function conditionOn(condition: PolicyStatement['Condition'], keys: readonly string[]): PolicyStatement['Condition'] {
  if (!condition) return undefined;
  const wanted = new Set(keys.map((k) => k.toLowerCase()));
  const out: NonNullable<PolicyStatement['Condition']> = {};
  for (const [operator, entries] of Object.entries(condition)) {
    const kept = Object.entries(entries ?? {}).filter(([key]) => wanted.has(key.toLowerCase()));
    if (kept.length > 0) out[operator] = Object.fromEntries(kept);
  }
  return out;
}

export type Decision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface EvaluationRequest {
  action: string;
  resource: string;
  /** Condition keys and their values, e.g. `iam:PassedToService`. */
  context?: Record<string, string[]>;
}

export interface Evaluation {
  decision: Decision;
  /** A statement with a condition this evaluator cannot decide was left out. */
  uncertain: boolean;
}

type Tri = boolean | 'unknown';

const STRING_OPERATORS: Record<string, { negated: boolean; like: boolean; ignoreCase: boolean }> = {
  StringEquals: { negated: false, like: false, ignoreCase: false },
  StringNotEquals: { negated: true, like: false, ignoreCase: false },
  StringEqualsIgnoreCase: { negated: false, like: false, ignoreCase: true },
  StringNotEqualsIgnoreCase: { negated: true, like: false, ignoreCase: true },
  StringLike: { negated: false, like: true, ignoreCase: false },
  StringNotLike: { negated: true, like: true, ignoreCase: false },
  ArnEquals: { negated: false, like: true, ignoreCase: false },
  ArnLike: { negated: false, like: true, ignoreCase: false },
  ArnNotEquals: { negated: true, like: true, ignoreCase: false },
  ArnNotLike: { negated: true, like: true, ignoreCase: false },
};

function conditionHolds(condition: PolicyStatement['Condition'], context: Record<string, string[]>): Tri {
  if (!condition) return true;
  const keys = new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), v]));
  let result: Tri = true;
  for (const [qualified, entries] of Object.entries(condition)) {
    const [, qualifier, rawOperator = qualified] = /^(ForAllValues|ForAnyValue):(.+)$/.exec(qualified) ?? [];
    const ifExists = rawOperator.endsWith('IfExists');
    const op = STRING_OPERATORS[ifExists ? rawOperator.slice(0, -'IfExists'.length) : rawOperator];
    for (const [key, expected] of Object.entries(entries ?? {})) {
      if (!op) {
        result = result === false ? false : 'unknown';
        continue;
      }
      const actual = keys.get(key.toLowerCase());
      const patterns = asStrings(expected);
      const matches = (value: string) => patterns.some((p) => (op.like ? wildcard(p, value, op.ignoreCase) : op.ignoreCase ? p.toLowerCase() === value.toLowerCase() : p === value));
      let holds: boolean;
      if (qualifier === 'ForAllValues') {
        // Every value of the request's set passes the test; an absent or empty set passes.
        holds = (actual ?? []).every((value) => (op.negated ? !matches(value) : matches(value)));
      } else if (qualifier === 'ForAnyValue') {
        // At least one value passes; an absent or empty set fails.
        holds = (actual ?? []).some((value) => (op.negated ? !matches(value) : matches(value)));
      } else if (actual === undefined) {
        // A missing key fails a positive test and passes a negated one; IfExists passes both.
        holds = ifExists || op.negated;
      } else {
        const matchesAny = actual.some(matches);
        holds = op.negated ? !matchesAny : matchesAny;
      }
      if (!holds) return false;
    }
  }
  return result;
}

function statementApplies(s: PolicyStatement, request: EvaluationRequest): Tri {
  if (!coversAction(s, request.action)) return false;
  if (s.Resource && !resourceMatches(s.Resource, request.resource)) return false;
  if (s.NotResource && resourceMatches(s.NotResource, request.resource)) return false;
  if (!s.Resource && !s.NotResource) return false;
  return conditionHolds(s.Condition, request.context ?? {});
}

/** The decision of identity policies for one request: an explicit Deny wins, then any Allow. */
export function evaluatePolicies(docs: readonly PolicyDocument[], request: EvaluationRequest): Evaluation {
  let allowed = false;
  let uncertain = false;
  for (const s of docs.flatMap((d) => d.Statement)) {
    const applies = statementApplies(s, request);
    if (applies === 'unknown') uncertain = true;
    if (applies !== true) continue;
    if (s.Effect === 'Deny') return { decision: 'explicitDeny', uncertain };
    allowed = true;
  }
  return { decision: allowed ? 'allowed' : 'implicitDeny', uncertain };
}

/**
 * What a key policy says about one principal and action: `principal` when it allows the
 * principal itself, `account` when it allows the account (which leaves the decision to the
 * principal's IAM policies), `denied` on an explicit Deny, `none` otherwise.
 */
export function keyPolicyAllows(doc: PolicyDocument, principalArn: string, accountId: string, partition: string, action: string): 'principal' | 'account' | 'denied' | 'none' {
  const root = `arn:${partition}:iam::${accountId}:root`;
  let verdict: 'principal' | 'account' | 'none' = 'none';
  for (const s of doc.Statement) {
    if (!coversAction(s, action)) continue;
    // A conditional statement (e.g. on aws:SecureTransport, or a Deny outside the organization)
    // neither grants nor denies here: the request's context keys are not known, and a negated
    // operator on a missing key would make every such Deny refuse the principal.
    if (s.Condition && Object.keys(s.Condition).length > 0) continue;
    if (s.NotPrincipal !== undefined) {
      // A Deny with NotPrincipal refuses every principal it does not list; an Allow with it is not counted.
      if (s.Effect === 'Deny' && !principalValues(s.NotPrincipal, 'AWS').includes(principalArn)) return 'denied';
      continue;
    }
    // A key policy's Resource is the key itself ("*"): only principals and actions tell.
    const principals = principalValues(s.Principal, 'AWS');
    const names = principals.includes('*') || principals.includes(principalArn) ? 'principal' : principals.includes(root) || principals.includes(accountId) ? 'account' : undefined;
    if (!names) continue;
    if (s.Effect === 'Deny') return 'denied';
    if (names === 'principal' || verdict === 'none') verdict = names;
  }
  return verdict;
}
