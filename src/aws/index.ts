/** AWS adapters behind the ports (RDS, S3, Glue, S3 Tables, Lake Formation, Athena). */
import type { SourceConfig } from '../config/schema';
import type { Ports } from '../ports';

export async function createAwsPorts(sourceName: string, source: SourceConfig): Promise<Ports> {
  void source;
  throw new Error(`source ${sourceName}: the AWS backend is not available in this build`);
}
