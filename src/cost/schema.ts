/** The `cost` section of a source in lakesync.yaml: the prices the cost ledger estimates with. */
import { z } from 'zod';
import { DEFAULT_PRICES } from './ledger';

const price = (what: string, fallback: number) =>
  z
    .number({ message: `must be a number: ${what} in USD` })
    .min(0, `must not be negative: ${what} in USD (0 leaves it out of the estimate)`)
    .refine(Number.isFinite, 'must be a finite number')
    .default(fallback)
    .describe(`${what} in USD; default ${fallback} (us-east-1 list price).`);

export const costSchema = z
  .object({
    gluePerDpuHour: price('the Glue ETL price per DPU-hour', DEFAULT_PRICES.gluePerDpuHour),
    glueFlexPerDpuHour: price('the Glue ETL price per DPU-hour of FLEX runs (aws.glue.executionClass FLEX)', DEFAULT_PRICES.glueFlexPerDpuHour),
    rdsExportPerGB: price('the RDS snapshot export price per GB exported', DEFAULT_PRICES.rdsExportPerGB),
    dynamodbFullExportPerGB: price('the DynamoDB full export price per GB', DEFAULT_PRICES.dynamodbFullExportPerGB),
    dynamodbIncrementalExportPerGB: price('the DynamoDB incremental export price per GB', DEFAULT_PRICES.dynamodbIncrementalExportPerGB),
  })
  .strict()
  .default(DEFAULT_PRICES)
  .describe('Prices of the cost ledger (lakesync cost): Glue DPU-hours and export GB, per table and cycle. Estimates, not a bill.');
