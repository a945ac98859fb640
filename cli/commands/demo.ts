/** `ciclo demo`: the main job. Brings the stack up and runs the pipeline end to end. */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { createStack } from '../../infra/stack/stack';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { provisionTopicsAndSchemas } from '../../schemas/provision';
import { runSmokeFlow } from '../smoke-flow';
import { formatStatus } from './stack';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerDemoCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('demo')
    .description('bring the stack up and run the pipeline end to end, then print a summary')
    .action(async () => {
      const config = getConfig();
      const reports = await createStack(config).up(say);
      say(formatStatus(reports));
      const unhealthy = reports.filter((r) => !r.health.healthy);
      if (unhealthy.length > 0) {
        throw new CicloError(
          'SERVICE_UNHEALTHY',
          `not healthy: ${unhealthy.map((r) => `${r.name} (${r.health.detail ?? 'no answer'})`).join(', ')}`,
        );
      }
      const admin = await connectTopicAdmin(config.endpoints.kafka.brokers);
      try {
        const provisioned = await provisionTopicsAndSchemas(
          admin,
          createAvroRegistry(config.endpoints.schemaRegistry.url),
        );
        say(
          `topics: ${provisioned.createdTopics.length} created, ${provisioned.existingTopics.length} existing; schemas: ${provisioned.subjects.map((x) => `${x.subject}#${x.schemaId}`).join(', ')}`,
        );
      } finally {
        await admin.close();
      }
      const result = await runSmokeFlow(config.endpoints);
      say(
        `smoke flow: schema id ${result.schemaId}, produced ${result.produced}, consumed ${result.consumed}, rows in ClickHouse ${result.rowsInClickHouse} (${result.millis} ms)`,
      );
      if (result.rowsInClickHouse !== result.produced) {
        throw new CicloError(
          'SERVICE_UNHEALTHY',
          `smoke flow lost messages: produced ${result.produced}, found ${result.rowsInClickHouse} rows`,
        );
      }
    });
}
