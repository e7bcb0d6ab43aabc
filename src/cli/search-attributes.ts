/**
 * The custom search attributes the workflows keep current (src/workflows/search.ts), so the
 * Temporal UI can list a source's workflows and its partial cycles. `lakesync dev` registers
 * them; on any other server: `temporal operator search-attribute create --name <n> --type <t>`.
 */
import { SEARCH_ATTRIBUTE_TYPES } from '../workflows/search';

export const SEARCH_ATTRIBUTES = SEARCH_ATTRIBUTE_TYPES;

/** Visibility queries the CLI links to. */
export const visibilityQueries = {
  source: (source: string) => `LakesyncSource = "${source}"`,
  partialCycles: (source: string) => `LakesyncSource = "${source}" AND LakesyncCycleStatus = "partial"`,
};
