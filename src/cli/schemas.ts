/**
 * The JSON Schemas the repo publishes in docs/: lakesync.yaml (for editor completion, from the
 * zod config schema) and the source workflow's messages (for other services).
 * scripts/gen-schemas.ts writes them; a test checks the committed files are current.
 */
import { z } from 'zod';
import { configSchema } from '../config/schema';
import { MESSAGES, MESSAGE_SCHEMAS } from './message-schemas';

export const SCHEMA_FILES = {
  config: 'docs/lakesync.schema.json',
  messages: 'docs/messages.schema.json',
} as const;

export function configJsonSchema(): Record<string, unknown> {
  // Draft 7 is what YAML editors (yaml-language-server) understand best; `input` keeps defaulted fields optional.
  const schema = z.toJSONSchema(configSchema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  return {
    $schema,
    $id: 'lakesync.schema.json',
    title: 'lakesync.yaml',
    description: 'Configuration of lakesync: Temporal connection and the sources to sync. Generated from src/config/schema.ts; cross-field rules are checked by "lakesync validate".',
    ...rest,
  };
}

export function messagesJsonSchema(): Record<string, unknown> {
  // `output` closes every object (additionalProperties: false), so a misspelt field is reported.
  const all = z.toJSONSchema(z.object(MESSAGE_SCHEMAS), { target: 'draft-2020-12', io: 'output' }) as { $defs?: Record<string, unknown> };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'messages.schema.json',
    title: 'lakesync source workflow messages',
    description: 'Workflow inputs, signals, updates and queries of lakesync (src/workflows/messages.ts). Payloads are JSON; see docs/messages.md.',
    'x-lakesync-messages': MESSAGES,
    $defs: all.$defs ?? {},
  };
}

export function schemaText(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
