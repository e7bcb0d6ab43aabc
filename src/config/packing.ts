/**
 * `sources.<s>.packing`: small RDS-export tables loaded several to a run (one Glue job run, or one
 * local runner job), each keeping its own result, commit, outcome and watermark.
 */
import { z } from 'zod';

export const PACKING_DEFAULTS = { thresholdGB: 1, maxTables: 25, maxGB: 5 } as const;

export const packingSchema = z
  .object({
    thresholdGB: z
      .number({ message: 'must be a number of gigabytes, e.g. 1' })
      .gt(0, 'must be more than 0 (export gigabytes)')
      .default(PACKING_DEFAULTS.thresholdGB)
      .describe("A table is packed when its size in the export (RDS export sizeGB) is at most this; larger tables, and tables without a size, run alone."),
    maxTables: z
      .number({ message: 'must be a whole number of tables from 2 to 200' })
      .int('must be a whole number of tables')
      .min(2, 'must be at least 2 (a pack of one table is a run of its own)')
      .max(200, 'must be at most 200')
      .default(PACKING_DEFAULTS.maxTables)
      .describe('At most this many tables in one run.'),
    maxGB: z
      .number({ message: 'must be a number of gigabytes, e.g. 5' })
      .gt(0, 'must be more than 0 (export gigabytes)')
      .default(PACKING_DEFAULTS.maxGB)
      .describe("At most this many export gigabytes (the tables' sizeGB summed) in one run; it is sized by that sum."),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.maxGB < p.thresholdGB) {
      ctx.addIssue({ code: 'custom', path: ['maxGB'], message: `must be at least thresholdGB (${p.thresholdGB}): a table that may be packed must fit in a pack` });
    }
  })
  .describe(
    'Load small tables several to a run: RDS-export tables (not extract: direct, not DynamoDB) whose export size is at most thresholdGB are grouped in plan order, ' +
      'up to maxTables and maxGB per run; tables.<t>.glueWorkers keeps a table in a run of its own. One run costs at least a minute of at least 2 Glue workers, ' +
      'so packing cuts the cost and the start-up time of many small tables. Absent: every table runs alone.',
  );

export type PackingConfig = z.infer<typeof packingSchema>;
