/**
 * "May this principal do that": IAM SimulatePrincipalPolicy, which evaluates the principal's
 * identity policies (inline, managed, group, permissions boundary) and the organization's SCPs.
 * It does not see resource policies of other principals' resources for a role (KMS key policies,
 * bucket policies): the KMS check reads the key policy itself (checks/kms.ts).
 *
 * Emulators lack SimulatePrincipalPolicy (moto answers HTTP 500 with an HTML page). Only with an
 * endpoint override, the simulator then reads the role's inline and attached managed policies
 * (and its permissions boundary) and evaluates them with src/doctor/policy.ts; `usedLocalEvaluation`
 * tells the report to say so.
 */
import {
  type ContextEntry,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  type IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  type ResourceSpecificResult,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import { awsErrorCode } from '../aws/errors';
import type { PolicyCondition } from '../aws/required-actions';
import { EMULATOR_NOT_IMPLEMENTED } from '../emulator';
import { type Decision, evaluatePolicies, parsePolicyDocument, type PolicyDocument } from './policy';

/** Actions per SimulatePrincipalPolicy call: long lists of actions and resources have been refused. */
const MAX_ACTIONS_PER_CALL = 20;

export interface PermissionRequest {
  action: string;
  /** Every resource the action must be allowed on. */
  resources: readonly string[];
  context?: Record<string, string[]>;
  /** Not simulated: the condition a statement allowing the action keeps, for the suggested fix. */
  condition?: PolicyCondition;
}

export interface PermissionOutcome {
  action: string;
  resource: string;
  /** The request's condition, for the suggested fix. */
  condition?: PolicyCondition;
  decision: Decision;
  /** Context keys a policy's condition asked for that the request did not give. */
  missingContext: string[];
  uncertain: boolean;
  /** An explicit Deny: the policies whose Deny statement refuses it, when known. */
  deniedBy?: string[];
  /** The permissions boundary does not allow it (its ARN when known, `true` otherwise). */
  boundaryDenies?: string | true;
  /** The organization's service control policies do not allow it. */
  organizationsDenies?: true;
  /** The identity policies allow it already (something else refuses it). */
  identityAllows?: true;
}

/** A policy document and how messages name it. */
interface NamedPolicy {
  name: string;
  doc: PolicyDocument;
}

interface RolePolicies {
  identity: NamedPolicy[];
  boundary?: NamedPolicy & { arn: string };
}

export class PermissionSimulator {
  private local = false;
  private readonly policies = new Map<string, Promise<RolePolicies>>();

  constructor(
    private readonly iam: IAMClient,
    /** True with an endpoint override (an emulator): allows the local evaluation. */
    private readonly emulator: boolean,
    /**
     * The region the calls are made in, simulated as aws:RequestedRegion unless a request names
     * its own. Without it a policy that allows only in some regions would deny (a missing key fails
     * StringEquals) and a region-locking Deny would apply (it passes StringNotEquals).
     */
    private readonly region: string,
  ) {}

  get usedLocalEvaluation(): boolean {
    return this.local;
  }

  async simulate(principalArn: string, requests: readonly PermissionRequest[]): Promise<PermissionOutcome[]> {
    if (!this.local) {
      try {
        return await this.simulateWithIam(principalArn, requests);
      } catch (err) {
        if (!(this.emulator && isMissingOperation(err))) throw err;
        this.local = true;
      }
    }
    const out: PermissionOutcome[] = [];
    for (const request of requests) out.push(...(await this.evaluateLocally(principalArn, request)));
    return out;
  }

  /**
   * One SimulatePrincipalPolicy call per set of resources and context, its actions together (at
   * most MAX_ACTIONS_PER_CALL): IAM throttles the simulator ("Rate exceeded"), and a call per
   * action made a doctor run close to a hundred calls.
   */
  private async simulateWithIam(principalArn: string, requests: readonly PermissionRequest[]): Promise<PermissionOutcome[]> {
    const batches = new Map<string, { request: PermissionRequest; actions: string[] }>();
    for (const original of requests) {
      const request = this.inRegion(original);
      const key = JSON.stringify([request.resources, request.context ?? {}, request.condition ?? {}]);
      const batch = batches.get(key) ?? { request, actions: [] };
      if (!batch.actions.includes(request.action)) batch.actions.push(request.action);
      batches.set(key, batch);
    }
    const out: PermissionOutcome[] = [];
    for (const { request, actions } of batches.values()) {
      for (let i = 0; i < actions.length; i += MAX_ACTIONS_PER_CALL) out.push(...(await this.simulateActions(principalArn, actions.slice(i, i + MAX_ACTIONS_PER_CALL), request)));
    }
    return out;
  }

  private async simulateActions(principalArn: string, actions: readonly string[], request: PermissionRequest): Promise<PermissionOutcome[]> {
    const contextEntries: ContextEntry[] = Object.entries(request.context ?? {}).map(([key, values]) => ({ ContextKeyName: key, ContextKeyValues: values, ContextKeyType: 'stringList' }));
    const out: PermissionOutcome[] = [];
    let marker: string | undefined;
    do {
      const page = await this.iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: principalArn,
          ActionNames: [...actions],
          ResourceArns: [...request.resources],
          ...(contextEntries.length ? { ContextEntries: contextEntries } : {}),
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      for (const result of page.EvaluationResults ?? []) {
        // With several resources IAM answers per resource; with one, EvalResourceName is it.
        const perResource: ResourceSpecificResult[] = result.ResourceSpecificResults?.length
          ? result.ResourceSpecificResults
          : [{ EvalResourceName: result.EvalResourceName, EvalResourceDecision: result.EvalDecision, MissingContextValues: result.MissingContextValues, MatchedStatements: result.MatchedStatements, PermissionsBoundaryDecisionDetail: result.PermissionsBoundaryDecisionDetail }];
        for (const r of perResource) {
          const decision = (r.EvalResourceDecision ?? result.EvalDecision ?? 'implicitDeny') as Decision;
          const matched = r.MatchedStatements ?? result.MatchedStatements ?? [];
          const sources = [...new Set(matched.map((m) => m.SourcePolicyId).filter((id): id is string => Boolean(id)))];
          const boundaryDenies = decision === 'implicitDeny' && (r.PermissionsBoundaryDecisionDetail ?? result.PermissionsBoundaryDecisionDetail)?.AllowedByPermissionsBoundary === false;
          const organizationsDenies = decision === 'implicitDeny' && result.OrganizationsDecisionDetail?.AllowedByOrganizations === false;
          // Refused by the boundary or an SCP, an implicit deny's matched statements are the identity policies' Allows.
          const identityAllows = (boundaryDenies || organizationsDenies) && matched.some((m) => m.SourcePolicyType !== 'resource' && m.SourcePolicyType !== 'none');
          out.push({
            action: result.EvalActionName ?? actions[0]!,
            resource: r.EvalResourceName ?? '*',
            ...(request.condition ? { condition: request.condition } : {}),
            decision,
            missingContext: r.MissingContextValues ?? result.MissingContextValues ?? [],
            uncertain: false,
            ...(decision === 'explicitDeny' && sources.length ? { deniedBy: sources } : {}),
            ...(boundaryDenies ? { boundaryDenies: true as const } : {}),
            ...(organizationsDenies ? { organizationsDenies: true as const } : {}),
            ...(identityAllows ? { identityAllows: true as const } : {}),
          });
        }
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return out;
  }

  /** The request with aws:RequestedRegion in its context. */
  private inRegion(request: PermissionRequest): PermissionRequest {
    return { ...request, context: { 'aws:RequestedRegion': [this.region], ...request.context } };
  }

  private async evaluateLocally(principalArn: string, original: PermissionRequest): Promise<PermissionOutcome[]> {
    const request = this.inRegion(original);
    const { identity, boundary } = await this.policiesOf(principalArn);
    return request.resources.map((resource) => {
      const asked = { action: request.action, resource, ...(request.context ? { context: request.context } : {}) };
      const base = { action: request.action, resource, ...(request.condition ? { condition: request.condition } : {}), missingContext: [] };
      const own = evaluatePolicies(identity.map((p) => p.doc), asked);
      if (own.decision === 'explicitDeny') {
        const deniedBy = identity.filter((p) => evaluatePolicies([p.doc], asked).decision === 'explicitDeny').map((p) => p.name);
        return { ...base, decision: own.decision, uncertain: own.uncertain, deniedBy };
      }
      if (own.decision !== 'allowed' || !boundary) return { ...base, decision: own.decision, uncertain: own.uncertain };
      // A permissions boundary caps what the identity policies allow.
      const capped = evaluatePolicies([boundary.doc], asked);
      const uncertain = own.uncertain || capped.uncertain;
      if (capped.decision === 'explicitDeny') return { ...base, decision: capped.decision, uncertain, deniedBy: [boundary.name] };
      if (capped.decision === 'implicitDeny') return { ...base, decision: capped.decision, uncertain, boundaryDenies: boundary.arn, identityAllows: true as const };
      return { ...base, decision: capped.decision, uncertain };
    });
  }

  private policiesOf(principalArn: string): Promise<RolePolicies> {
    let loaded = this.policies.get(principalArn);
    if (!loaded) {
      loaded = this.loadRolePolicies(principalArn);
      this.policies.set(principalArn, loaded);
    }
    return loaded;
  }

  private async loadRolePolicies(principalArn: string): Promise<RolePolicies> {
    const roleName = roleNameOf(principalArn);
    if (!roleName) throw new Error(`cannot evaluate the policies of ${principalArn} without SimulatePrincipalPolicy: only roles are read`);
    const identity: NamedPolicy[] = [];
    let marker: string | undefined;
    do {
      const page = await this.iam.send(new ListRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }));
      for (const name of page.PolicyNames ?? []) {
        const policy = await this.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
        const what = `inline policy ${name} of role ${roleName}`;
        identity.push({ name: what, doc: parsePolicyDocument(policy.PolicyDocument, what) });
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    do {
      const page = await this.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }));
      for (const attached of page.AttachedPolicies ?? []) identity.push({ name: `managed policy ${attached.PolicyArn!}`, doc: await this.managedPolicy(attached.PolicyArn!) });
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    const role = await this.iam.send(new GetRoleCommand({ RoleName: roleName }));
    const boundaryArn = role.Role?.PermissionsBoundary?.PermissionsBoundaryArn;
    return boundaryArn ? { identity, boundary: { name: `permissions boundary ${boundaryArn}`, arn: boundaryArn, doc: await this.managedPolicy(boundaryArn) } } : { identity };
  }

  private async managedPolicy(arn: string): Promise<PolicyDocument> {
    const policy = await this.iam.send(new GetPolicyCommand({ PolicyArn: arn }));
    const version = await this.iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: policy.Policy?.DefaultVersionId }));
    return parsePolicyDocument(version.PolicyVersion?.Document, `managed policy ${arn}`);
  }
}

/** The role name of a role ARN (the last part of its path), or undefined for other principals. */
export function roleNameOf(arn: string): string | undefined {
  const match = /^arn:[^:]+:iam::\d{12}:role\/(?:.*\/)?([^/]+)$/.exec(arn);
  return match?.[1];
}

/** An emulator's answer to an operation it lacks: HTTP 5xx with an HTML page instead of XML or JSON. */
export function isMissingOperation(err: unknown): boolean {
  if (awsErrorCode(err) === EMULATOR_NOT_IMPLEMENTED) return true;
  const e = err as { $metadata?: { httpStatusCode?: number }; message?: string };
  return (e?.$metadata?.httpStatusCode ?? 0) >= 500 && /<html|<!doctype/i.test(e?.message ?? '');
}
