/**
 * The principals Lake Formation grants to (DataLakePrincipalIdentifier): an IAM role or user ARN,
 * a SAML user or group of an IAM SAML provider, a QuickSight, IAM Identity Center or Organizations
 * ARN, an AWS account id (cross-account), every IAM principal of an account (`<account>:IAMPrincipals`)
 * or IAM_ALLOWED_PRINCIPALS. A name Lake Formation cannot
 * grant to would only fail at each table's grant, after its load ran: it is refused in the config.
 */
const FORMS =
  'give an IAM role or user ARN (arn:aws:iam::<account>:role/<name>), a SAML user or group (arn:aws:iam::<account>:saml-provider/<provider>:group/<name>), ' +
  'a QuickSight, IAM Identity Center or Organizations ARN, a 12-digit account id, <account id>:IAMPrincipals (every IAM principal of the account), or IAM_ALLOWED_PRINCIPALS';

/** Why Lake Formation cannot grant to `principal`, or undefined when it is one of the forms it takes. */
export function lakeFormationPrincipalProblem(principal: string): string | undefined {
  if (/^\d{12}(:IAMPrincipals)?$/.test(principal) || principal === 'IAM_ALLOWED_PRINCIPALS') return undefined;
  // DataLakePrincipalIdentifier is at most 255 characters.
  if (principal.length > 255) return `is ${principal.length} characters long; Lake Formation takes a principal of at most 255: ${FORMS}`;
  // No ARN holds white space: one copied with a trailing blank or a space in a name names nobody.
  const arn = /^arn:aws(-[a-z]+)*:([a-z0-9-]+):([a-z0-9-]*):([^:\s]*):(\S+)$/.exec(principal);
  if (!arn) return `is not a principal Lake Formation grants to: ${FORMS}`;
  const [, , service, region, account, resource] = arn;
  if (service === 'sts') return `is a session of an assumed role, which Lake Formation does not grant to: name the role (arn:aws:iam::<account>:role/<name>); ${FORMS}`;
  const kinds = PRINCIPAL_RESOURCES[service!];
  if (!kinds) return `is an ARN of service ${service}, not a principal Lake Formation grants to: ${FORMS}`;
  if (service === 'iam' && !/^\d{12}$/.test(account!)) return `names IAM account "${account}", not a 12-digit account id: ${FORMS}`;
  // IAM ARNs name no Region: arn:aws:iam::<account>:...
  if (service === 'iam' && !/^arn:aws(-[a-z]+)*:iam::/.test(principal)) return `names a Region, which an IAM ARN never does (arn:aws:iam::<account>:role/<name>): ${FORMS}`;
  if (service === 'iam' && /^(role|user)\//.test(resource!) && !IAM_NAME.test(resource!)) {
    return `is not an IAM role or user ARN: after an optional path (/<path>/) the name is 1-64 letters, digits or +=,.@_- (no wildcard, no trailing /): ${FORMS}`;
  }
  // QuickSight users and groups are of a Region and an account: arn:aws:quicksight:<region>:<account>:user/<namespace>/<name>.
  if (service === 'quicksight' && !region) return `names no Region, and a QuickSight ARN names its Region (arn:aws:quicksight:<region>:<account>:group/<namespace>/<name>): ${FORMS}`;
  if (service === 'quicksight' && !/^\d{12}$/.test(account!)) return `names QuickSight account "${account}", not a 12-digit account id (arn:aws:quicksight:<region>:<account>:group/<namespace>/<name>): ${FORMS}`;
  // Identity Center users and groups are named by their id only: arn:aws:identitystore:::user/<user id>, group/<group id>.
  if (service === 'identitystore' && (region || account)) {
    return `names ${region ? `Region "${region}"` : `account "${account}"`}, and an IAM Identity Center ARN names no Region and no account (arn:aws:identitystore:::user/<user id> or group/<group id>): ${FORMS}`;
  }
  if (!kinds.form.test(resource!)) return `is not ${kinds.what}: ${FORMS}`;
  return undefined;
}

/** An IAM role or user: `role/` or `user/`, an optional path of printable characters between slashes, and a name of 1-64 of IAM's name characters. */
const IAM_NAME = /^(role|user)\/([\x21-\x7e]*\/)?[\w+=,.@-]{1,64}$/;

/** The ARNs of each service that Lake Formation grants to, by their resource part. */
const PRINCIPAL_RESOURCES: Record<string, { form: RegExp; what: string }> = {
  iam: { form: /^(role|user)\/.+|^saml-provider\/[^:]+:(user|group)\/.+/, what: 'an IAM role, user or SAML principal (Lake Formation does not grant to IAM groups or policies)' },
  // user/<namespace>/<name>: a namespace (default, or one of QuickSight's namespaces: 1-64 of a-zA-Z0-9._-), then the name,
  // which may hold a slash (a federated user is <role>/<session>).
  quicksight: { form: /^(user|group)\/[\w.-]{1,64}\/.+/, what: 'a QuickSight user or group (user/<namespace>/<name> or group/<namespace>/<name>, e.g. group/default/analysts)' },
  // user/<user id> or group/<group id>: an id holds no slash.
  identitystore: { form: /^(user|group)\/[^/]+$/, what: 'an IAM Identity Center user or group (user/<user id> or group/<group id>)' },
  organizations: { form: /^(organization|ou)\/.+/, what: 'an organization or organizational unit' },
};

/**
 * The account a principal is in, when Lake Formation would share with another account or an
 * organization to grant to it: a 12-digit account id, `<account>:IAMPrincipals`, an IAM ARN, or an
 * Organizations ARN ('organization'). Undefined for principals of no account (Identity Center, IAM_ALLOWED_PRINCIPALS).
 */
function principalAccount(principal: string): string | undefined {
  const bare = /^(\d{12})(:IAMPrincipals)?$/.exec(principal);
  if (bare) return bare[1];
  if (/^arn:aws(-[a-z]+)*:organizations:/.test(principal)) return 'organization';
  const arn = /^arn:aws(-[a-z]+)*:(iam|quicksight):[a-z0-9-]*:(\d{12}):/.exec(principal);
  return arn?.[3];
}

/**
 * Why a grant cannot be made as configured across accounts, or undefined: Lake Formation does not
 * give ALL (Super) to another account or an organization, so each table would load, then fail its grant.
 */
export function crossAccountGrantProblem(principal: string, permissions: readonly string[], lakeAccount: string): string | undefined {
  if (!permissions.includes('ALL')) return undefined;
  const account = principalAccount(principal);
  if (account === undefined || account === lakeAccount) return undefined;
  return (
    `gives ALL to ${principal}, in another account or an organization than the lake's (${lakeAccount}): Lake Formation does not grant ALL (Super) across accounts, ` +
    'so each table would load and then fail its grant; name the permissions it needs instead (e.g. SELECT, DESCRIBE)'
  );
}
