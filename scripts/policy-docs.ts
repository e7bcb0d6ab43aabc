/**
 * Writes the policy blocks of docs/aws-setup.md (`<!-- policy: NAME -->` followed by a json block)
 * from infra/lakesync.yaml, with the docs' placeholders. Run after changing a policy of the template:
 *   npx tsc -p . && node dist/scripts/policy-docs.js            (rewrites the blocks)
 *   npx tsc -p . && node dist/scripts/policy-docs.js --check    (exit 1 when a block is stale)
 * test/aws/policies.test.ts fails while a block differs from the template.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../src/toolchain';
import { docsPolicies, type Json, POLICY_SOURCES } from './policy-template';

export const DOCS_FILE = join('docs', 'aws-setup.md');

const BLOCK = /(<!-- policy: ([a-z-]+) -->\s*```json\n)([\s\S]*?)(\n\s*```)/g;

/** The JSON blocks of the docs by name, parsed. */
export function docsBlocks(markdown: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const match of markdown.matchAll(BLOCK)) out[match[2]!] = JSON.parse(match[3]!) as Json;
  return out;
}

/** The docs with every block the template has rewritten from it; the other blocks stay as they are. */
export function renderDocs(markdown: string, policies: Record<string, Json>): string {
  const missing = Object.keys(POLICY_SOURCES).filter((name) => !markdown.includes(`<!-- policy: ${name} -->`));
  if (missing.length) throw new Error(`${DOCS_FILE} has no block for ${missing.join(', ')}: add "<!-- policy: NAME -->" and an empty json block where it belongs`);
  return markdown.replace(BLOCK, (whole, head: string, name: string, body: string, tail: string) => {
    if (!(name in policies)) return whole;
    const indent = /^( *)/.exec(body)![1]!;
    return `${head}${indent}${formatPolicy(policies[name]!, indent)}${tail}`;
  });
}

/** JSON in the docs' style: statements one per block, short lists and small objects on one line. */
export function formatPolicy(value: Json, indent = ''): string {
  return format(value, indent, '');
}

const INLINE_MAX = 110;

function format(value: Json, indent: string, key: string): string {
  const inline = inlineForm(value);
  if (inline !== undefined && (isScalar(value) || key === 'Action' || inline.length <= INLINE_MAX - indent.length) && !(key === '' && !isScalar(value) && !Array.isArray(value))) return inline;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((item) => `${inner}${format(item, inner, 'item')}`).join(',\n')}\n${indent}]`;
  const entries = Object.entries(value as Record<string, Json>);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner, k)}`).join(',\n')}\n${indent}}`;
}

function isScalar(value: Json): boolean {
  return value === null || typeof value !== 'object';
}

function inlineForm(value: Json): string | undefined {
  if (isScalar(value)) return JSON.stringify(value);
  if (Array.isArray(value)) {
    const items = value.map(inlineForm);
    return items.some((i) => i === undefined) ? undefined : `[${items.join(', ')}]`;
  }
  const entries = Object.entries(value as Record<string, Json>);
  const parts = entries.map(([k, v]) => {
    const inner = inlineForm(v);
    return inner === undefined ? undefined : `${JSON.stringify(k)}: ${inner}`;
  });
  return parts.some((p) => p === undefined) ? undefined : `{ ${parts.join(', ')} }`;
}

function main(argv: string[]): number {
  const file = join(repoRoot(), DOCS_FILE);
  const before = readFileSync(file, 'utf8');
  const after = renderDocs(before, docsPolicies());
  if (argv.includes('--check')) {
    if (before === after) return 0;
    console.error(`${DOCS_FILE} is not current with infra/lakesync.yaml: run node dist/scripts/policy-docs.js`);
    return 1;
  }
  if (before !== after) writeFileSync(file, after);
  console.log(before === after ? `${DOCS_FILE} is current` : `wrote the policy blocks of ${DOCS_FILE}`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
