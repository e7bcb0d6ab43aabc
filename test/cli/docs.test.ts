/**
 * What a user copies from the documentation works as written: every `lakesync` command line in
 * README.md, docs/*.md and glue/README.md names a command and flags the CLI has, every
 * `npm run <script>` is a script of package.json, every repository path exists, and every key of
 * the lakesync.yaml examples is one docs/lakesync.schema.json has. Checked without running anything.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { buildProgram } from '../../src/cli/program';
import { ROOT } from './helpers';

/** The user-facing documents, relative to the repository root. */
const DOCS = ['README.md', 'glue/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

interface Found {
  where: string;
  text: string;
}

function read(doc: string): string {
  return readFileSync(join(ROOT, doc), 'utf8');
}

/** Each line of a document with its number and whether it is inside a fenced code block. */
function lines(doc: string): { n: number; line: string; code: boolean; fence?: string }[] {
  const out: { n: number; line: string; code: boolean; fence?: string }[] = [];
  let fence: string | undefined;
  read(doc)
    .split('\n')
    .forEach((line, i) => {
      const open = /^\s*```(\w*)/.exec(line);
      if (open) {
        fence = fence === undefined ? open[1] : undefined;
        return;
      }
      out.push({ n: i + 1, line, code: fence !== undefined, ...(fence !== undefined ? { fence } : {}) });
    });
  return out;
}

/** The fenced code blocks of a document: their language, first line number and lines. */
function codeBlocks(doc: string): { fence: string; first: number; rows: string[] }[] {
  const blocks: { fence: string; first: number; rows: string[] }[] = [];
  let last = -1;
  for (const { n, line, code, fence } of lines(doc)) {
    if (!code) continue;
    if (n !== last + 1 || blocks.length === 0) blocks.push({ fence: fence ?? '', first: n, rows: [] });
    blocks.at(-1)!.rows.push(line);
    last = n;
  }
  return blocks;
}

/**
 * The `lakesync ...` command lines: inline code that starts with `lakesync `, and lines of shell
 * code blocks that run `lakesync` (continuation lines joined, comments dropped).
 */
function commandLines(): Found[] {
  const found: Found[] = [];
  for (const doc of DOCS) {
    let pending = '';
    for (const { n, line, code, fence } of lines(doc)) {
      if (!code) {
        for (const m of line.matchAll(/`(?:npx )?lakesync ([^`]+)`/g)) found.push({ where: `${doc}:${n}`, text: `lakesync ${m[1]}` });
        continue;
      }
      if (!['sh', 'bash', 'shell', 'console', ''].includes(fence ?? '')) continue;
      const joined = pending + line;
      if (/\\\s*$/.test(line)) {
        pending = joined.replace(/\\\s*$/, ' ');
        continue;
      }
      pending = '';
      const m = /^\s*(?:\$ )?(?:[A-Z_]+=\S+ )*(?:npx )?lakesync( .*)?$/.exec(joined.replace(/\s#.*$/, ''));
      if (m) found.push({ where: `${doc}:${n}`, text: `lakesync${m[1] ?? ''}` });
    }
  }
  return found;
}

function flagsOf(cmd: Command): Set<string> {
  const flags = new Set(['--help', '-h']);
  for (const o of cmd.options) {
    if (o.long) flags.add(o.long);
    if (o.short) flags.add(o.short);
  }
  return flags;
}

/** What is wrong with a documented command line, if anything. */
function problemOf(program: Command, text: string): string | undefined {
  const words = text.split(/\s+/).slice(1);
  let cmd = program;
  let i = 0;
  for (; i < words.length; i++) {
    const sub = cmd.commands.find((c) => c.name() === words[i] || c.aliases().includes(words[i]!));
    if (!sub) break;
    cmd = sub;
  }
  const next = words[i];
  // A placeholder (<source>, [table], ...) or a choice (create|describe|...) of subcommands.
  const placeholder = (w: string) => /^[<[(.]/.test(w) || w.includes('|');
  if (cmd.commands.length > 0 && next !== undefined && !next.startsWith('-') && !placeholder(next)) {
    return `"${cmd === program ? 'lakesync' : cmd.name()}" has no command ${next} (it has ${cmd.commands.map((c) => c.name()).join(', ')})`;
  }
  const flags = flagsOf(cmd);
  const unknown = words
    .slice(i)
    .map((w) => w.replace(/^[[(]+/, '').replace(/[\])]+$/, '').split('=')[0]!)
    .filter((w) => /^--?[a-zA-Z]/.test(w) && !flags.has(w) && !(w.startsWith('--no-') && flags.has(`--${w.slice(5)}`)));
  if (unknown.length > 0) return `${unknown.join(', ')}: not an option of "lakesync ${cmd === program ? '' : cmd.name()}" (it has ${[...flags].join(', ')})`;
  return undefined;
}

describe('the documentation against the product', () => {
  it('every lakesync command line in the docs names a command and options the CLI has', () => {
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT };
    const program = buildProgram({ io, deps: {} }).command;
    const found = commandLines();
    assert.ok(found.length >= 50, `the docs name lakesync commands (found ${found.length})`);
    const wrong = found.flatMap((f) => {
      const problem = problemOf(program, f.text);
      return problem ? [`${f.where}: ${f.text}\n  ${problem}`] : [];
    });
    assert.deepEqual(wrong, []);
  });

  it('every command of the CLI is in the README\'s command table', () => {
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT };
    const program = buildProgram({ io, deps: {} }).command;
    const readme = read('README.md');
    const missing = program.commands.map((c) => c.name()).filter((name) => !new RegExp(`^\\| \`${name}[ \`]`, 'm').test(readme));
    assert.deepEqual(missing, []);
  });

  it('as the README says, every command takes --config and every read command --json', () => {
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT };
    const program = buildProgram({ io, deps: {} }).command;
    const leaves = program.commands.flatMap((c) => (c.commands.length > 0 ? c.commands.map((s) => ({ name: `${c.name()} ${s.name()}`, cmd: s })) : [{ name: c.name(), cmd: c }]));
    const reads = ['validate', 'doctor', 'plan', 'schema', 'status', 'watermarks', 'cost', 'query', 'grants', 'schedule describe'];
    assert.deepEqual(leaves.filter((l) => !flagsOf(l.cmd).has('--config')).map((l) => l.name), []);
    assert.deepEqual(reads.filter((name) => !flagsOf(leaves.find((l) => l.name === name)!.cmd).has('--json')), []);
  });

  it('every npm run <script> in the docs is a script of package.json', () => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
    const wrong: string[] = [];
    let count = 0;
    for (const doc of DOCS)
      for (const { n, line } of lines(doc))
        for (const m of line.matchAll(/npm run (?:--silent )?([\w:-]+)/g)) {
          count++;
          if (!scripts.includes(m[1]!)) wrong.push(`${doc}:${n}: npm run ${m[1]}`);
        }
    assert.ok(count >= 10, `the docs name npm scripts (found ${count})`);
    assert.deepEqual(wrong, [], `package.json has: ${scripts.join(', ')}`);
  });

  it('every repository path and relative link in the docs exists', () => {
    const wrong: string[] = [];
    let count = 0;
    for (const doc of DOCS) {
      const here = dirname(doc);
      for (const { n, line } of lines(doc)) {
        // Links relative to the document.
        for (const m of line.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
          const target = m[1]!;
          if (/^[a-z]+:/.test(target)) continue;
          count++;
          if (!existsSync(join(ROOT, here, target))) wrong.push(`${doc}:${n}: link ${target}`);
        }
        // Paths from the repository root in inline code (`src/...`, `glue/...`), or, in glue/README.md, from glue/.
        for (const m of line.matchAll(/`((?:src|test|glue|docs|bench|scripts|examples|infra|bin|lakesync_glue|tests)\/[\w./-]*[\w/])`/g)) {
          const path = m[1]!;
          if (/[<*]/.test(path)) continue;
          count++;
          if (!existsSync(join(ROOT, path)) && !existsSync(join(ROOT, here, path))) wrong.push(`${doc}:${n}: ${path}`);
        }
      }
    }
    assert.ok(count >= 20, `the docs name repository paths (found ${count})`);
    assert.deepEqual(wrong, []);
  });

  it('every file of the layouts the docs draw (README.md "Layout", glue/README.md "Structure") exists', () => {
    const wrong: string[] = [];
    let count = 0;
    for (const doc of DOCS) {
      for (const block of codeBlocks(doc)) {
        const rows = block.rows;
        // A layout starts with a folder of the repository.
        if (block.fence !== '' || !/^(src|glue|test|bench|scripts|docs)\/\S*\s/.test(`${rows[0]} `)) continue;
        const where = (i: number) => `${doc}:${block.first + i}`;
        const folders: { indent: number; path: string }[] = [];
        rows.forEach((row, i) => {
          const m = /^( *)([\w.-]+(?:\/[\w.-]+)*\/?(?:, [\w.-]+)*)(?: {2,}|$)/.exec(row);
          if (!m) return;
          const indent = m[1]!.length;
          while (folders.length > 0 && folders.at(-1)!.indent >= indent) folders.pop();
          const names = m[2]!.split(', ');
          // A file has an extension, a folder a trailing slash; other words are the text of the line before.
          if (!names.every((n) => n.endsWith('/') || /\.\w+$/.test(n))) return;
          for (const name of names) {
            const path = [...folders.map((f) => f.path), name].join('');
            count++;
            if (!existsSync(join(ROOT, path))) wrong.push(`${where(i)}: ${path}`);
          }
          if (names.length === 1 && names[0]!.endsWith('/')) folders.push({ indent, path: names[0]! });
        });
      }
    }
    assert.ok(count >= 40, `the docs draw the repository's layout (found ${count})`);
    assert.deepEqual(wrong, []);
  });

  it('every key of the lakesync.yaml examples in the docs is in docs/lakesync.schema.json', () => {
    const schema = JSON.parse(read('docs/lakesync.schema.json')) as SchemaNode;
    const source = schema.properties!.sources!.additionalProperties as SchemaNode;
    const wrong: string[] = [];
    let count = 0;
    for (const doc of DOCS) {
      for (const block of codeBlocks(doc)) {
        if (block.fence !== 'yaml' && block.fence !== 'yml') continue;
        const where = `${doc}:${block.first}`;
        const value: unknown = parseYaml(block.rows.join('\n'), { merge: true });
        if (!isObject(value)) continue;
        // A whole file (temporal:, sources:), or the settings of one source.
        const root = 'sources' in value || 'temporal' in value ? schema : Object.keys(value).some((k) => k in source.properties!) ? source : undefined;
        if (!root) continue;
        count++;
        wrong.push(...unknownKeys(value, root, '').map((k) => `${where}: ${k.slice(1)}`));
      }
    }
    assert.ok(count >= 8, `the docs have lakesync.yaml examples (found ${count})`);
    assert.deepEqual(wrong, []);
  });
});

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  allOf?: SchemaNode[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function variants(n: SchemaNode): SchemaNode[] {
  return [n, ...[...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])].flatMap(variants)];
}

/** The keys of `value` (by path) that the schema node refuses; of its alternatives, the one that fits best. */
function unknownKeys(value: unknown, node: SchemaNode, path: string): string[] {
  if (Array.isArray(value)) {
    const items = variants(node).find((v) => v.items)?.items;
    return items ? value.flatMap((x, i) => unknownKeys(x, items, `${path}[${i}]`)) : [];
  }
  if (!isObject(value)) return [];
  const objects = variants(node).filter((v) => v.properties || typeof v.additionalProperties === 'object');
  if (objects.length === 0) return [];
  let best: string[] | undefined;
  for (const v of objects) {
    const wrong: string[] = [];
    for (const [k, x] of Object.entries(value)) {
      // `{ ... }`: the rest as elsewhere on the page.
      if (k === '...' || k === '…') continue;
      const child = v.properties?.[k] ?? (typeof v.additionalProperties === 'object' ? v.additionalProperties : undefined);
      if (child) wrong.push(...unknownKeys(x, child, `${path}.${k}`));
      else if (v.additionalProperties === false) wrong.push(`${path}.${k}`);
    }
    if (!best || wrong.length < best.length) best = wrong;
  }
  return best!;
}
