// @ts-check
/**
 * The layering rules of lakesync's source tree, checked by dependency-cruiser:
 *   npm run lint:deps                 (depcruise src --config .dependency-cruiser.cjs)
 *   test/core/layering.test.ts        (the same rules through the API, plus a check of each rule)
 *
 * The layers:
 *   src/workflows   Temporal workflow code, bundled into the deterministic sandbox
 *   src/activities  thin activities that call the ports (src/ports.ts)
 *   src/aws, src/local, src/fake   the three backends implementing the ports
 *   src/config      the configuration schema and its loading
 *   src/backends    the port factory: turns configuration into resolved settings and ports
 *   src/cli, src/worker.ts   the entry points that wire everything together
 *
 * Paths are regular expressions on the module's path relative to the repository root.
 * `tsPreCompilationDeps: true` makes TypeScript-only dependencies visible: an `import type`
 * carries the dependency type "type-only", which is how the rules below tell it apart from an
 * import that survives compilation.
 */

/** The backends (adapters) behind the ports. */
const BACKENDS = '^src/(aws|local|fake)/';

/** Every kind of npm package dependency dependency-cruiser distinguishes. */
const NPM = ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'workflows-no-adapters',
      severity: 'error',
      comment:
        'Workflow code runs in the Temporal sandbox and must stay deterministic: it may not reach ' +
        'the backends (src/aws, src/local, src/fake), the configuration (src/config), the CLI, the ' +
        'port factory (src/backends) or the worker. Have an activity do the work through a port and ' +
        'pass the workflow plain data (src/model.ts, src/plan.ts, src/workflows/messages.ts).',
      from: { path: '^src/workflows/' },
      to: {
        path: [
          '^src/(aws|local|fake|config|cli)/',
          '^src/backends([.]ts$|/)',
          '^src/worker[.]ts$',
        ],
      },
    },
    {
      name: 'workflows-no-adapters',
      severity: 'error',
      comment:
        'The Temporal workflow sandbox provides no Node.js built-in module (fs, path, crypto, ' +
        'timers, "node:" modules...). Do the I/O in an activity; for time, randomness and sleeping ' +
        'use the deterministic APIs of @temporalio/workflow (Date.now, Math.random, sleep, uuid4).',
      from: { path: '^src/workflows/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'workflows-no-adapters',
      severity: 'error',
      comment:
        'Workflows call activities only through proxyActivities, so they need the activity ' +
        'signatures and nothing else: write `import type { Activities } from "../activities"`. ' +
        'A value import would pull the activity implementations (and the ports and SDKs behind ' +
        'them) into the workflow bundle.',
      from: { path: '^src/workflows/' },
      to: {
        path: '^src/activities/',
        dependencyTypesNot: ['type-only', 'type-import'],
      },
    },
    {
      name: 'workflows-only-temporal-packages',
      severity: 'error',
      comment:
        'The only npm packages workflow code may import are @temporalio/workflow and ' +
        '@temporalio/common: anything else is bundled into the sandbox and may be ' +
        'non-deterministic or rely on Node.js. Move the code that needs the package into an ' +
        'activity (or a plain module the activity uses) and hand the workflow its result.',
      from: { path: '^src/workflows/' },
      to: {
        dependencyTypes: NPM,
        // no ^: the package may resolve through a symlinked node_modules outside the root
        pathNot: '(^|/)node_modules/@temporalio/(workflow|common)/',
      },
    },
    {
      name: 'activities-through-ports',
      severity: 'error',
      comment:
        'Activities reach the outside world only through the port interfaces (src/ports.ts), ' +
        'which the port factory (src/backends) binds to one backend at worker start. Add or ' +
        'extend a method of a port instead of importing a backend.',
      from: { path: '^src/activities/' },
      to: { path: BACKENDS },
    },
    {
      name: 'backends-independent',
      severity: 'error',
      comment:
        'The backends (src/aws, src/local, src/fake) implement the same ports and never import ' +
        'each other. Move what they share into a backend-neutral module (src/model.ts, ' +
        'src/ports.ts, or a small module directly under src/).',
      from: { path: BACKENDS },
      // $1 is the backend of the importing module: imports within the same backend are fine
      to: { path: BACKENDS, pathNot: '^src/$1/' },
    },
    {
      name: 'adapters-no-config',
      severity: 'error',
      comment:
        'The backends do not read the configuration (src/config): the port factory ' +
        '(src/backends) resolves the settings and passes them in as plain values. Take the ' +
        'setting as a parameter (or a field of the backend settings type) instead.',
      from: { path: BACKENDS },
      to: { path: '^src/config/' },
    },
    {
      name: 'config-no-workflows',
      severity: 'error',
      comment:
        'The configuration is the bottom layer the others read: it does not depend on workflows, ' +
        'activities or the CLI. Move the shared type or constant into src/model.ts (or into ' +
        'src/config itself) and import it from there on both sides.',
      from: { path: '^src/config/' },
      to: { path: '^src/(workflows|activities|cli)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'This import closes a cycle of imports that survive compilation. In CommonJS a cycle ' +
        'means one of the modules sees the other half-initialised (undefined exports at load ' +
        'time). Break it: move the shared part into a third module both import. ' +
        'Cycles through an `import type` do not count: TypeScript erases those imports, so they ' +
        'cannot change load order, and mutual type references (e.g. between a port and the ' +
        'model types it uses) are harmless.',
      from: { path: '^src/' },
      to: {
        circular: true,
        dependencyTypesNot: ['type-only', 'type-import'],
        viaOnly: { dependencyTypesNot: ['type-only', 'type-import'] },
      },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'This module imports something that cannot be resolved to a file. If it is an npm ' +
        'package, add it to package.json (and install it); otherwise fix the path.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6', 'cjs'],
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
