/**
 * Naming rules every part shares: source tables are `schema.table`, and lake names follow the
 * S3 Tables rule. Pure, so the config, the plan and every backend use the same checks.
 */

/** S3 Tables: namespaces and tables are 1-255 lowercase letters, digits, underscores. */
export const LAKE_NAME = /^[a-z0-9][a-z0-9_]{0,254}$/;

export function isValidLakeName(name: string): boolean {
  return LAKE_NAME.test(name);
}

export function splitTable(table: string): [schema: string, name: string] {
  const dot = table.indexOf('.');
  if (dot <= 0) throw new Error(`table "${table}" is not schema.table`);
  return [table.slice(0, dot), table.slice(dot + 1)];
}
