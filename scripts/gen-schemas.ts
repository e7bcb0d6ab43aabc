/**
 * Writes docs/lakesync.schema.json and docs/messages.schema.json from the zod schemas.
 * Run after changing src/config/schema.ts or src/workflows/messages.ts:
 *   npx tsc -p . && node dist/scripts/gen-schemas.js     (with scripts/ in tsconfig's include)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_FILES, configJsonSchema, messagesJsonSchema, schemaText } from '../src/cli/schemas';
import { repoRoot } from '../src/cli/paths';

const root = repoRoot();
writeFileSync(join(root, SCHEMA_FILES.config), schemaText(configJsonSchema()));
writeFileSync(join(root, SCHEMA_FILES.messages), schemaText(messagesJsonSchema()));
console.log(`wrote ${SCHEMA_FILES.config} and ${SCHEMA_FILES.messages}`);
