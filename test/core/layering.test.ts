/**
 * The layering rules of src/ (.dependency-cruiser.cjs, also run by `npm run lint:deps`): the real
 * tree keeps them, and each rule catches the import it exists to forbid, on a copy of the tree
 * with one forbidden import added.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ICruiseOptions, ICruiseResult, IViolation } from 'dependency-cruiser';

const CONFIG = '.dependency-cruiser.cjs';

/** The repository root: the nearest folder above this file (src or dist) with the rules file. */
function findRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, CONFIG))) return dir;
    if (dirname(dir) === dir) throw new Error(`no ${CONFIG} in any folder above ${__dirname}`);
  }
}

/**
 * dependency-cruiser is published as ES modules only: its package exports have no `require`
 * condition, and its module graph uses top-level await, which Node's require(esm) refuses. This
 * file compiles to CommonJS, where TypeScript rewrites `import()` into `require()`; a function built
 * at run time keeps a real `import()`, resolved from this file like any other import.
 */
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

interface DepCruiser {
  cruise(files: string[], options: ICruiseOptions, resolveOptions: object, transpileOptions: { tsConfig: unknown }): Promise<{ output: ICruiseResult | string }>;
}
interface DefaultExport<F> {
  default: F;
}

/** One violation; a cycle is reported once, by one of its imports, with the modules it goes through. */
interface Finding {
  rule: string;
  from: string;
  to: string;
  cycle?: string[];
}
const show = (f: Finding): string => `${f.rule}: ${f.from} → ${f.to}${f.cycle ? ` (cycle: ${[f.from, ...f.cycle].join(' → ')})` : ''}`;

/**
 * Runs the rules of `root`/.dependency-cruiser.cjs over `root`/src (or from `start`, following
 * their imports) the way the command line does: the config file (with any `extends` merged)
 * becomes the cruise options, and the tsconfig it names is read with the same helper the command
 * line uses.
 */
async function check(root: string, start: string[] = ['src']): Promise<Finding[]> {
  const { cruise } = await importEsm<DepCruiser>('dependency-cruiser');
  const { default: extractDepcruiseOptions } = await importEsm<DefaultExport<(file: string) => Promise<ICruiseOptions>>>(
    'dependency-cruiser/config-utl/extract-depcruise-options',
  );
  const { default: extractTSConfig } = await importEsm<DefaultExport<(file: string) => unknown>>('dependency-cruiser/config-utl/extract-ts-config');

  const options = await extractDepcruiseOptions(join(root, CONFIG));
  // The command line resolves these against the folder it runs in; here that is `root`.
  const tsConfigFile = join(root, options.tsConfig?.fileName ?? 'tsconfig.json');
  const cruiseOptions: ICruiseOptions = { ...options, baseDir: root, tsConfig: { fileName: tsConfigFile } };
  const { output } = await cruise(start, cruiseOptions, {}, { tsConfig: extractTSConfig(tsConfigFile) });
  assert.ok(typeof output !== 'string', 'the cruise returns its result as an object');
  const violations: IViolation[] = output.summary.violations;
  return violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to, ...(v.cycle ? { cycle: v.cycle.map((m) => m.name) } : {}) }));
}

describe('layering', () => {
  const root = findRoot();

  test('src keeps every layering rule', async () => {
    const findings = await check(root);
    assert.equal(findings.length, 0, `${findings.length} layering violation(s):\n${findings.map(show).join('\n')}`);
  });

  describe('each rule catches the import it forbids', () => {
    let copy = '';
    let baseline = new Set<string>();
    const added: string[] = [];

    before(async () => {
      copy = mkdtempSync(join(tmpdir(), 'lakesync-layering-'));
      cpSync(join(root, 'src'), join(copy, 'src'), { recursive: true });
      for (const file of ['tsconfig.json', 'package.json', CONFIG]) cpSync(join(root, file), join(copy, file));
      // npm packages resolve (and are told apart from core modules) through the real node_modules.
      symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
      // Whatever the copied tree already breaks is not what the attacks below are judged on.
      baseline = new Set((await check(copy)).map(show));
    });
    after(() => {
      if (copy) rmSync(copy, { recursive: true, force: true });
    });

    /** `src/<folder>/<preferred>.ts` if it exists, else the folder's first module: the files move. */
    function moduleIn(folder: string, preferred: string): string {
      const dir = join(copy, 'src', folder);
      if (existsSync(join(dir, `${preferred}.ts`))) return `src/${folder}/${preferred}.ts`;
      const first = readdirSync(dir)
        .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
        .sort()[0];
      assert.ok(first, `src/${folder} has a module`);
      return `src/${folder}/${first}`;
    }

    /** The import specifier of module `to` (a path under the copy) from module `from`. */
    function specifier(from: string, to: string): string {
      const path = posix.relative(posix.dirname(from), to).replace(/(\/index)?\.ts$/, '');
      return path.startsWith('.') ? path : `./${path}`;
    }

    /**
     * Adds files (path under the copy → source) to the copy, cruises it from them, and returns what
     * is new. Every rule judges one import (or a cycle of them), so the modules the added files
     * reach are all a rule can fire on; cruising the whole tree again for each attack finds the same.
     */
    async function attack(files: Record<string, string>): Promise<Finding[]> {
      for (const [path, source] of Object.entries(files)) {
        mkdirSync(dirname(join(copy, path)), { recursive: true });
        writeFileSync(join(copy, path), source);
        added.push(path);
      }
      try {
        return (await check(copy, Object.keys(files))).filter((f) => !baseline.has(show(f)));
      } finally {
        for (const path of added.splice(0)) rmSync(join(copy, path), { force: true });
      }
    }

    /** A module that imports `spec` and uses it as a value (so the import survives compilation). */
    const valueImport = (spec: string): string => `import * as imported from '${spec}';\nexport const used = imported;\n`;

    /** Asserts that the findings are exactly the expected ones (order aside). */
    function assertFindings(findings: Finding[], expected: Array<{ rule: string; from: string; to: string | RegExp }>): void {
      const listing = `found:\n${findings.map(show).join('\n') || '(nothing)'}`;
      assert.equal(findings.length, expected.length, listing);
      for (const e of expected) {
        const hit = findings.find((f) => f.rule === e.rule && f.from === e.from && (typeof e.to === 'string' ? f.to === e.to : e.to.test(f.to)));
        assert.ok(hit, `expected ${e.rule}: ${e.from} → ${e.to}; ${listing}`);
      }
    }

    /** One file importing the module `to` (a path under src/) as a value: exactly `rule` fires. */
    async function assertCaught(rule: string, from: string, to: string): Promise<void> {
      assertFindings(await attack({ [from]: valueImport(specifier(from, to)) }), [{ rule, from, to }]);
    }

    test('workflows-no-adapters: a workflow importing a backend', async () => {
      await assertCaught('workflows-no-adapters', 'src/workflows/x.ts', moduleIn('aws', 's3tables'));
    });

    test('workflows-no-adapters: a workflow importing the configuration, even for a type', async () => {
      const to = moduleIn('config', 'schema');
      const from = 'src/workflows/x.ts';
      const findings = await attack({ [from]: `import type * as config from '${specifier(from, to)}';\nexport type Config = typeof config;\n` });
      assertFindings(findings, [{ rule: 'workflows-no-adapters', from, to }]);
    });

    test('workflows-no-adapters: a workflow importing a Node.js built-in module', async () => {
      const from = 'src/workflows/x.ts';
      const findings = await attack({
        [from]: `import { readFileSync } from 'node:fs';\nimport { createHash } from 'crypto';\nexport const used = [readFileSync, createHash];\n`,
      });
      assertFindings(findings, [
        { rule: 'workflows-no-adapters', from, to: /^(node:)?fs$/ },
        { rule: 'workflows-no-adapters', from, to: /^(node:)?crypto$/ },
      ]);
    });

    test('workflows-no-adapters: a workflow importing the activities as values', async () => {
      await assertCaught('workflows-no-adapters', 'src/workflows/x.ts', moduleIn('activities', 'index'));
    });

    test('control: a workflow importing the activities for their types only raises nothing', async () => {
      const from = 'src/workflows/x.ts';
      const spec = specifier(from, moduleIn('activities', 'index'));
      const findings = await attack({
        [from]:
          `import type * as activities from '${spec}';\n` +
          `import { proxyActivities } from '@temporalio/workflow';\n` +
          `export const acts = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });\n`,
      });
      assertFindings(findings, []);
    });

    test('workflows-only-temporal-packages: a workflow importing another npm package', async () => {
      const from = 'src/workflows/x.ts';
      assertFindings(await attack({ [from]: valueImport('zod') }), [{ rule: 'workflows-only-temporal-packages', from, to: /node_modules\/zod\// }]);
    });

    test('activities-through-ports: an activity importing a backend', async () => {
      await assertCaught('activities-through-ports', 'src/activities/x.ts', moduleIn('local', 'files'));
    });

    test('backends-independent: aws → local, local → fake, fake → aws', async () => {
      await assertCaught('backends-independent', 'src/aws/x.ts', moduleIn('local', 'files'));
      await assertCaught('backends-independent', 'src/local/x.ts', moduleIn('fake', 'state'));
      await assertCaught('backends-independent', 'src/fake/x.ts', moduleIn('aws', 's3'));
    });

    test('backends-independent: local → aws, fake → local, aws → fake', async () => {
      await assertCaught('backends-independent', 'src/local/x.ts', moduleIn('aws', 's3'));
      await assertCaught('backends-independent', 'src/fake/x.ts', moduleIn('local', 'files'));
      await assertCaught('backends-independent', 'src/aws/x.ts', moduleIn('fake', 'state'));
    });

    test('adapters-no-config: a backend importing the configuration', async () => {
      await assertCaught('adapters-no-config', 'src/aws/x.ts', moduleIn('config', 'schema'));
      await assertCaught('adapters-no-config', 'src/local/x.ts', moduleIn('config', 'schema'));
      await assertCaught('adapters-no-config', 'src/fake/x.ts', moduleIn('config', 'schema'));
    });

    test('config-no-workflows: the configuration importing a workflow module, an activity or the CLI', async () => {
      await assertCaught('config-no-workflows', 'src/config/x.ts', moduleIn('workflows', 'messages'));
      await assertCaught('config-no-workflows', 'src/config/x.ts', moduleIn('activities', 'index'));
      await assertCaught('config-no-workflows', 'src/config/x.ts', moduleIn('cli', 'format'));
    });

    /** Exactly one finding: the no-circular rule, for a cycle through exactly `modules`. */
    function assertCycle(findings: Finding[], modules: string[]): void {
      const listing = `found:\n${findings.map(show).join('\n') || '(nothing)'}`;
      assert.equal(findings.length, 1, listing);
      const [finding] = findings;
      assert.equal(finding?.rule, 'no-circular', listing);
      assert.deepEqual([...new Set([finding.from, ...(finding.cycle ?? [])])].sort(), [...modules].sort(), listing);
    }

    test('no-circular: two modules importing each other', async () => {
      const a = 'src/cycle-a.ts';
      const b = 'src/cycle-b.ts';
      assertCycle(await attack({ [a]: valueImport('./cycle-b'), [b]: valueImport('./cycle-a') }), [a, b]);
    });

    test('no-circular: a longer cycle across folders', async () => {
      const a = 'src/cycle-a.ts';
      const b = 'src/activities/cycle-b.ts';
      const c = 'src/cycle-c.ts';
      assertCycle(await attack({ [a]: valueImport('./activities/cycle-b'), [b]: valueImport('../cycle-c'), [c]: valueImport('./cycle-a') }), [a, b, c]);
    });

    test('control: a cycle closed by a type-only import raises nothing', async () => {
      const a = 'src/cycle-a.ts';
      const b = 'src/cycle-b.ts';
      const findings = await attack({
        [a]: valueImport('./cycle-b'),
        [b]: `import type * as a from './cycle-a';\nexport type A = typeof a;\n`,
      });
      assertFindings(findings, []);
    });

    test('not-to-unresolvable: an import of a module that does not exist', async () => {
      const from = 'src/x.ts';
      assertFindings(await attack({ [from]: valueImport('./no-such-module') }), [{ rule: 'not-to-unresolvable', from, to: './no-such-module' }]);
    });

    test('the attacks leave the copy as it was', () => {
      for (const path of ['src/workflows/x.ts', 'src/cycle-a.ts', 'src/cycle-b.ts', 'src/cycle-c.ts', 'src/x.ts']) assert.ok(!existsSync(join(copy, path)), path);
    });
  });
});
