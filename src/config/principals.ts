/**
 * The principals Lake Formation grants to (DataLakePrincipalIdentifier): an IAM role or user ARN,
 * a SAML user or group of an IAM SAML provider, a QuickSight, IAM Identity Center or Organizations
 * ARN, an AWS account id (cross-account) or IAM_ALLOWED_PRINCIPALS. A name Lake Formation cannot
 * grant to would only fail at each table's grant, after its load ran: it is refused in the config.
 */
const FORMS =
  'give an IAM role or user ARN (arn:aws:iam::<account>:role/<name>), a SAML user or group (arn:aws:iam::<account>:saml-provider/<provider>:group/<name>), ' +
  'a QuickSight, IAM Identity Center or Organizations ARN, a 12-digit account id, or IAM_ALLOWED_PRINCIPALS';

/** Why Lake Formation cannot grant to `principal`, or undefined when it is one of the forms it takes. */
export function lakeFormationPrincipalProblem(principal: string): string | undefined {
  if (/^\d{12}$/.test(principal) || principal === 'IAM_ALLOWED_PRINCIPALS') return undefined;
  const arn = /^arn:aws(-[a-z]+)*:([a-z0-9-]+):[a-z0-9-]*:([^:]*):(.+)$/.exec(principal);
  if (!arn) return `is not a principal Lake Formation grants to: ${FORMS}`;
  const [, , service, account, resource] = arn;
  if (service === 'sts') return `is a session of an assumed role, which Lake Formation does not grant to: name the role (arn:aws:iam::<account>:role/<name>); ${FORMS}`;
  if (service !== 'iam') return undefined;
  if (!/^\d{12}$/.test(account!)) return `names IAM account "${account}", not a 12-digit account id: ${FORMS}`;
  if (!/^(role|user)\/.+|^saml-provider\/[^:]+:(user|group)\/.+/.test(resource!)) return `is not an IAM role, user or SAML principal (Lake Formation does not grant to IAM groups or policies): ${FORMS}`;
  return undefined;
}
