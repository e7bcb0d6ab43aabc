/**
 * The principals of a grant request, each once. grants[] may list a principal in several entries;
 * Lake Formation's permissions add up, so the principal gets the union of their permissions, asked
 * for in one grant per resource (and counted once).
 */
import type { GrantRequest } from './model';

export function principalsOnce(principals: GrantRequest['principals']): GrantRequest['principals'] {
  const byPrincipal = new Map<string, { principal: string; tablePermissions: Set<string>; namespacePermissions: Set<string> }>();
  for (const p of principals) {
    const merged = byPrincipal.get(p.principal) ?? { principal: p.principal, tablePermissions: new Set<string>(), namespacePermissions: new Set<string>() };
    for (const perm of p.tablePermissions) merged.tablePermissions.add(perm);
    for (const perm of p.namespacePermissions) merged.namespacePermissions.add(perm);
    byPrincipal.set(p.principal, merged);
  }
  return [...byPrincipal.values()].map((p) => ({ principal: p.principal, tablePermissions: [...p.tablePermissions], namespacePermissions: [...p.namespacePermissions] }));
}
