/**
 * `ciclo dlq list [--topic t] [--json]` and `ciclo dlq replay [--topic t] [--corrected file.ndjson]`.
 * Dead letters keep the original bytes; replay sends them back to the topic they came from (after a fix
 * in ciclo), or sends corrected touchpoints read from a file in their place. Either way the original event
 * time is kept: it is inside the touchpoint, and the Kafka timestamp is carried over. The collector's dead
 * letters (Segment calls it could not map) came from no topic: replay leaves them, and `--corrected` is
 * their way back.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { connectConsumer } from '../../infra/kafka/consumer';
import { connectProducer } from '../../infra/kafka/producer';
import type { IncomingMessage, OutgoingMessage } from '../../infra/kafka/types';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { CONTRACTS } from '../../schemas/contracts';
import { DEAD_LETTER_HEADERS } from '../../schemas/outputs';
import { createSerde } from '../../infra/registry/serde';
import { TOPICS, touchpointRecords, valueSubject } from '../../schemas/topics';
import { touchpointPartitions } from '../touchpoint-sink';
import { connectPrivacy } from '../../infra/privacy/connect';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { privateSerde } from '../../infra/privacy/personal-data';
import { formatProblems, validateWith } from '../../schemas/validation';

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const DLQ_TOPICS = [TOPICS.touchpointsDeadLetter.name, TOPICS.projectorDeadLetter.name];

/** Reads a topic from the beginning to its current end, without moving any group's offsets. */
export async function readWholeTopic(
  brokers: readonly string[],
  topic: string,
  quietMs = 1500,
): Promise<IncomingMessage[]> {
  const admin = await connectTopicAdmin(brokers);
  const exists = (await admin.listTopics()).includes(topic);
  await admin.close();
  if (!exists)
    throw new CicloError('CONFIG_INVALID', `topic "${topic}" does not exist (run \`ciclo topics ensure\`)`);
  const out: IncomingMessage[] = [];
  let last = Date.now();
  const consumer = await connectConsumer({
    brokers,
    groupId: `ciclo-dlq-read-${process.pid}-${Date.now()}`,
    topics: [topic],
    fromBeginning: true,
    commitOffsets: false,
  });
  await consumer.run((batch) => {
    out.push(...batch);
    last = Date.now();
    return Promise.resolve();
  });
  const started = Date.now();
  while (Date.now() - last < quietMs || Date.now() - started < quietMs * 2)
    await new Promise((r) => setTimeout(r, 100));
  await consumer.stop();
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

export function registerDlqCommands(program: Command, getConfig: () => CicloConfig): void {
  const dlq = program.command('dlq').description('inspect and replay dead letters');

  dlq
    .command('list')
    .description('dead letters with their reason, error and origin')
    .option('--topic <topic>', `one of ${DLQ_TOPICS.join(', ')}`, TOPICS.touchpointsDeadLetter.name)
    .option('--json', 'one JSON object per line')
    .action(async (opts: { topic: string; json?: boolean }) => {
      const letters = await readWholeTopic(getConfig().endpoints.kafka.brokers, opts.topic);
      for (const m of letters) {
        const h = m.headers;
        const entry = {
          offset: m.offset,
          key: m.key,
          reason: h[DEAD_LETTER_HEADERS.reason],
          error: h[DEAD_LETTER_HEADERS.error],
          // A collector's dead letter was never on a topic: it names the sender and the call instead.
          source:
            h[DEAD_LETTER_HEADERS.sourceTopic] !== undefined
              ? `${h[DEAD_LETTER_HEADERS.sourceTopic]}[${h[DEAD_LETTER_HEADERS.sourcePartition]}]@${h[DEAD_LETTER_HEADERS.sourceOffset]}`
              : `source ${h[DEAD_LETTER_HEADERS.sender]} ${h[DEAD_LETTER_HEADERS.call]}`,
          stage: h[DEAD_LETTER_HEADERS.stage],
          failedAt: h[DEAD_LETTER_HEADERS.failedAt],
          bytes: m.value?.length ?? 0,
        };
        say(
          opts.json
            ? JSON.stringify(entry)
            : `${entry.offset}  ${entry.reason}  ${entry.source}  key=${entry.key ?? '-'}  ${entry.error}`,
        );
      }
      if (!opts.json) say(`${letters.length} dead letter(s) in ${opts.topic}`);
    });

  dlq
    .command('replay')
    .description('send dead letters back to their source topic, or corrected touchpoints in their place')
    .option('--topic <topic>', `one of ${DLQ_TOPICS.join(', ')}`, TOPICS.touchpointsDeadLetter.name)
    .option(
      '--corrected <file>',
      'NDJSON touchpoints to send instead of the original bytes (validated first)',
    )
    .option('--to <topic>', 'where corrected touchpoints go', TOPICS.touchpoints.name)
    .action(async (opts: { topic: string; corrected?: string; to: string }) => {
      const { endpoints } = getConfig();
      const producer = await connectProducer({
        brokers: endpoints.kafka.brokers,
        clientId: 'ciclo-dlq-replay',
      });
      let closePrivacy = (): Promise<void> => Promise.resolve();
      try {
        if (opts.corrected) {
          const lines = fs
            .readFileSync(opts.corrected, 'utf8')
            .split('\n')
            .filter((l) => l.trim());
          const config = getConfig();
          const privacy = await connectPrivacy({
            brokers: endpoints.kafka.brokers,
            touchpointTopic: opts.to,
            secret: loadInstallationSecret(config.home, config.pseudonymSecret),
            clientId: 'ciclo-dlq-replay',
            writable: true,
          });
          closePrivacy = () => privacy.close();
          // Corrected touchpoints are sealed like any other writer's (infra/privacy/personal-data.ts).
          const serde = privateSerde(
            await createSerde(
              createAvroRegistry(endpoints.schemaRegistry.url),
              CONTRACTS.touchpoint,
              valueSubject(opts.to),
            ),
            privacy.privacy,
          );
          const partitions = await touchpointPartitions(endpoints, opts.to);
          const messages: OutgoingMessage[] = [];
          for (const [i, line] of lines.entries()) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(line);
            } catch {
              throw new CicloError('EVENT_INVALID', `${opts.corrected}:${i + 1}: not valid JSON`);
            }
            const checked = validateWith(CONTRACTS.touchpoint.schema, parsed);
            if (!checked.ok)
              throw new CicloError(
                'EVENT_INVALID',
                `${opts.corrected}:${i + 1}: ${formatProblems(checked.problems)}`,
              );
            const tp = privacy.privacy.keptIds(checked.value);
            if (privacy.privacy.isSuppressed(tp)) {
              say(`${opts.corrected}:${i + 1}: an id of this touchpoint was forgotten: not sent`);
              continue;
            }
            for (const r of touchpointRecords(tp, await serde.encode(tp), partitions))
              messages.push({ ...r, headers: { ...r.headers, 'ciclo-replayed-from': opts.topic } });
          }
          await producer.send(opts.to, messages);
          say(`replayed ${messages.length} corrected touchpoint(s) to ${opts.to}`);
          return;
        }
        const letters = await readWholeTopic(endpoints.kafka.brokers, opts.topic);
        const bySource = new Map<string, OutgoingMessage[]>();
        for (const m of letters) {
          const source = m.headers[DEAD_LETTER_HEADERS.sourceTopic];
          if (!source) continue;
          const headers = Object.fromEntries(
            Object.entries(m.headers).filter(([k]) => !k.startsWith('ciclo-dlq-')),
          );
          bySource.set(source, [
            ...(bySource.get(source) ?? []),
            {
              key: m.key,
              value: m.value,
              headers: { ...headers, 'ciclo-replayed-from': `${opts.topic}@${m.offset}` },
              timestamp: m.timestamp,
            },
          ]);
        }
        for (const [source, messages] of bySource) {
          await producer.send(source, messages);
          say(`replayed ${messages.length} dead letter(s) to ${source}`);
        }
        if (bySource.size === 0) say(`no dead letters in ${opts.topic}`);
      } finally {
        await producer.close();
        await closePrivacy();
      }
    });
}
