/**
 * `ciclo forget <id> [--json]`: erases a person with every id linked to them (cli/forget/forget.ts says how
 * and in which order). Exits 0 when everything is erased, 3 when something is left (a processor or the
 * projector not running, or not there in time), with what and who will finish it; running it again is safe.
 */
import type { Command } from 'commander';
import { connectClickHouseServer } from '../../infra/clickhouse/engine';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { connectProducer } from '../../infra/kafka/producer';
import { connectPrivacy } from '../../infra/privacy/connect';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { namespacedTopics, processorGroupOf, projectorGroupOf } from '../../schemas/topics';
import { clickHousePersonStore, forgetPerson, type ForgetReport } from '../forget/forget';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerForgetCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('forget')
    .description(
      'erase a person and every id linked to them: Kafka state, sealed personal fields, ClickHouse rows; future events of theirs are dropped',
    )
    .argument('<id>', 'a customer id, anonymous id or email of the person')
    .option('--json', 'print the report as one JSON object')
    .option('--wait <seconds>', 'how long to wait for the processors and the projector', '120')
    .option('--namespace <ns>', "the pipeline's topic namespace", 'ciclo')
    .option(
      '--processor-groups <groups>',
      'comma-separated consumer groups of the processors (default: every group named <ns>-processor-*)',
    )
    .option('--projector-group <group>', "the projector's consumer group (default: <ns>-projector)")
    .action(
      async (
        id: string,
        opts: {
          json?: boolean;
          wait: string;
          namespace: string;
          processorGroups?: string;
          projectorGroup?: string;
        },
      ) => {
        const waitSeconds = Number(opts.wait);
        if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
          throw new CicloError('CONFIG_INVALID', `--wait must be a number of seconds, got "${opts.wait}"`);
        if (id.trim() === '') throw new CicloError('CONFIG_INVALID', 'the id to forget must not be empty');
        const config = getConfig();
        const { endpoints } = config;
        const secret = loadInstallationSecret(config.home, config.pseudonymSecret);
        const topics = namespacedTopics(opts.namespace);
        const admin = await connectTopicAdmin(endpoints.kafka.brokers);
        const clickhouse = connectClickHouseServer({
          url: endpoints.clickhouse.url,
          urls: endpoints.clickhouse.urls,
          requestTimeoutMs: 60_000,
        });
        try {
          const producer = await connectProducer({
            brokers: endpoints.kafka.brokers,
            clientId: 'ciclo-forget',
          });
          const privacy = await connectPrivacy({
            brokers: endpoints.kafka.brokers,
            touchpointTopic: topics.touchpoints.name,
            secret,
            clientId: 'ciclo-forget',
            writable: true,
          });
          try {
            const processors = opts.processorGroups
              ? opts.processorGroups
                  .split(',')
                  .map((g) => g.trim())
                  .filter(Boolean)
              : (await admin.listGroups())
                  .filter((g) => g.startsWith(processorGroupOf(opts.namespace, '')))
                  .sort();
            const report = await forgetPerson(id, {
              admin,
              producer,
              privacy,
              clickhouse: clickHousePersonStore(clickhouse, endpoints.clickhouse.database),
              secret,
              topics,
              groups: { processors, projector: opts.projectorGroup ?? projectorGroupOf(opts.namespace) },
              waitMs: waitSeconds * 1000,
              ...(opts.json ? {} : { progress: say }),
            });
            say(opts.json ? JSON.stringify(report) : formatReport(report));
            if (!report.complete) process.exitCode = 3;
          } finally {
            await privacy.close();
            await producer.close();
          }
        } finally {
          await admin.close();
          await clickhouse.close();
        }
      },
    );
}

function formatReport(r: ForgetReport): string {
  const lines = [
    `forget ${r.request}: ${r.complete ? 'done' : 'not finished'}`,
    `  ids of the person        ${r.ids} (emails found ${r.emailsFound}, names found ${r.namesFound})`,
    `  suppressed               ${r.suppressed} pseudonym(s) on the suppression list`,
    `  forget markers           ${r.markers}`,
    `  keys destroyed           ${r.keysDestroyed}`,
    ...r.readers.map(
      (g) =>
        `  ${g.role.padEnd(10)} ${g.group.padEnd(24)} ${g.done ? 'erased' : g.running ? 'late' : 'not running'}`,
    ),
  ];
  if (r.clickhouseRowsDeleted)
    lines.push(
      `  ClickHouse rows deleted  ${Object.entries(r.clickhouseRowsDeleted)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ')}`,
    );
  for (const p of r.pending) lines.push(`  pending: ${p}`);
  return lines.join('\n');
}
