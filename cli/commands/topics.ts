/** `ciclo topics ensure [--model id|path ...] | list | tail <topic>` */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { durabilityFindings } from '../../infra/kafka/durability';
import { connectConsumer } from '../../infra/kafka/consumer';
import type { IncomingMessage } from '../../infra/kafka/types';
import { createAvroRegistry, type AvroRegistry } from '../../infra/registry/schema-registry';
import { CONTRACTS } from '../../schemas/contracts';
import { provisionTopicsAndSchemas } from '../../infra/registry/provision';
import { ALL_TOPICS, lifecycleStateTopicOf, TOPICS } from '../../schemas/topics';
import { DEFAULT_MODEL_ID } from '../../processors/domain/model';
import { loadModel } from '../../processors/runtime/model-file';
import { checkChangelogTopicName } from '../../processors/runtime/start';
import type { Touchpoint } from '../../schemas/touchpoint';
import { connectPrivacy } from '../../infra/privacy/connect';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { isSealedBytes, type TouchpointPrivacy } from '../../infra/privacy/personal-data';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerTopicsCommands(program: Command, getConfig: () => CicloConfig): void {
  const topics = program.command('topics').description("create, list and inspect ciclo's Kafka topics");

  topics
    .command('ensure')
    .description('create the topics and register every schema with its compatibility level (idempotent)')
    .option(
      '--model <id|path...>',
      "stage models whose changelog (ciclo.lifecycle-state.<model id>) to create too (a model's processor " +
        'creates its own at start; made beforehand, instances started together never register its schema at once)',
      [DEFAULT_MODEL_ID],
    )
    .action(async (opts: { model: string[] }) => {
      const { endpoints } = getConfig();
      const changelogs = [...new Set(opts.model.map((m) => loadModel(m).id))].map((id) => {
        const topic = lifecycleStateTopicOf(id);
        checkChangelogTopicName(id, topic.name);
        return topic;
      });
      const admin = await connectTopicAdmin(endpoints.kafka.brokers);
      try {
        const report = await provisionTopicsAndSchemas(
          admin,
          createAvroRegistry(endpoints.schemaRegistry.url),
          [...ALL_TOPICS, ...changelogs],
        );
        for (const t of report.createdTopics) say(`topic ${t}: created`);
        for (const t of report.existingTopics) say(`topic ${t}: exists`);
        for (const a of report.alignedTopics) say(`topic ${a.topic}: set ${a.changed.join(', ')}`);
        for (const s of report.subjects) {
          say(
            `subject ${s.subject}: schema id ${s.schemaId}, version ${s.version} (${s.newVersion ? 'registered' : 'unchanged'}), ${s.compatibility}`,
          );
        }
        const { brokers, topics: replication } = await admin.replicationOf([
          ...ALL_TOPICS.map((t) => t.name),
          ...changelogs.map((t) => t.name),
          '__transaction_state',
          '__consumer_offsets',
        ]);
        const findings = durabilityFindings(brokers, replication);
        say(
          `durability: ${brokers} broker(s); ${findings.length === 0 ? 'every topic is replicated as the cluster allows' : `${findings.length} finding(s)`}`,
        );
        for (const f of findings) say(`  ${f.severity}: ${f.message}`);
        if (findings.some((f) => f.severity === 'refuse')) process.exitCode = 3;
      } finally {
        await admin.close();
      }
    });

  topics
    .command('list')
    .description('print one topic name per line')
    .option('--internal', "include Kafka's internal topics (__consumer_offsets, ...)")
    .action(async (opts: { internal?: boolean }) => {
      const admin = await connectTopicAdmin(getConfig().endpoints.kafka.brokers);
      try {
        const names = (await admin.listTopics()).filter((n) => opts.internal || !n.startsWith('__')).sort();
        for (const n of names) say(n);
      } finally {
        await admin.close();
      }
    });

  topics
    .command('tail')
    .description('print decoded messages with key, partition, offset and headers')
    .argument('<topic>', 'topic name')
    .option('--from-beginning', 'start at the oldest message instead of new ones')
    .option('--max <n>', 'stop after n messages')
    .option('--timeout <seconds>', 'stop after this many seconds')
    .option('--json', 'one JSON object per line')
    .action(
      async (
        topic: string,
        opts: { fromBeginning?: boolean; max?: string; timeout?: string; json?: boolean },
      ) => {
        const max = opts.max === undefined ? Infinity : parsePositive('--max', opts.max);
        const timeoutMs =
          opts.timeout === undefined ? undefined : parsePositive('--timeout', opts.timeout) * 1000;
        const { endpoints } = getConfig();
        const admin = await connectTopicAdmin(endpoints.kafka.brokers);
        const exists = (await admin.listTopics()).includes(topic);
        await admin.close();
        if (!exists)
          throw new CicloError(
            'CONFIG_INVALID',
            `topic "${topic}" does not exist (see \`ciclo topics list\`)`,
          );

        const registry = createAvroRegistry(endpoints.schemaRegistry.url);
        const config = getConfig();
        const privacy = await connectPrivacy({
          brokers: endpoints.kafka.brokers,
          touchpointTopic: touchpointTopicOfPipeline(topic),
          secret: loadInstallationSecret(config.home, config.pseudonymSecret),
          clientId: 'ciclo-tail',
          writable: false,
        }).catch(() => undefined);
        const consumer = await connectConsumer({
          brokers: endpoints.kafka.brokers,
          groupId: `ciclo-tail-${process.pid}-${Date.now()}`,
          topics: [topic],
          fromBeginning: opts.fromBeginning ?? false,
          commitOffsets: false,
        });
        let printed = 0;
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const onSignal = (): void => finish();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const timer = timeoutMs === undefined ? undefined : setTimeout(finish, timeoutMs);
        await consumer.run(async (messages) => {
          for (const m of messages) {
            if (printed >= max) break;
            const value = await openPersonal(privacy?.privacy, m, await describeValue(registry, m));
            say(opts.json ? JSON.stringify(toJsonLine(m, value)) : formatHuman(m, value));
            printed += 1;
          }
          if (printed >= max) finish();
        });
        await finished;
        if (timer) clearTimeout(timer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await consumer.stop();
        await privacy?.close();
      },
    );
}

function parsePositive(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new CicloError('CONFIG_INVALID', `${flag} must be a positive whole number, got "${raw}"`);
  return n;
}

type DescribedValue = {
  value: unknown;
  schemaId?: number;
  encoding: 'avro' | 'utf8' | 'base64' | 'null';
  decodeError?: string;
  /** Sealed personal data (infra/privacy/): opened, or erased with its key (`ciclo forget`). */
  personal?: 'opened' | 'erased' | 'unopened';
};

/** The pipeline a topic belongs to, by its namespace (`<ns>.whatever`): its touchpoint topic. */
function touchpointTopicOfPipeline(topic: string): string {
  const dot = topic.indexOf('.');
  return `${dot > 0 ? topic.slice(0, dot) : 'ciclo'}${TOPICS.touchpoints.name.slice('ciclo'.length)}`;
}

/**
 * A value with its sealed personal data opened where the person's key still exists: a touchpoint's fields,
 * a dead letter's bytes. Key material of the person-key topic is not shown.
 */
async function openPersonal(
  privacy: TouchpointPrivacy | undefined,
  m: IncomingMessage,
  described: DescribedValue,
): Promise<DescribedValue> {
  if (m.topic.endsWith(TOPICS.personKeys.name.slice('ciclo'.length)) && m.value)
    return { value: `(a key of ${m.value.length - 1} bytes, not shown)`, encoding: 'utf8' };
  const v = described.value as { sealed?: unknown; eventId?: unknown } | null;
  if (v && typeof v === 'object' && typeof v.sealed === 'string' && typeof v.eventId === 'string') {
    if (!privacy) return { ...described, personal: 'unopened' };
    const opened = await privacy.open(v as Touchpoint);
    return {
      ...described,
      value: opened.touchpoint,
      personal: opened.state === 'erased' ? 'erased' : 'opened',
    };
  }
  if (m.value && m.key !== null && isSealedBytes(m.value)) {
    if (!privacy) return { ...described, personal: 'unopened' };
    const bytes = await privacy.openBytes(m.key, m.key, m.value);
    return bytes === undefined
      ? { value: null, encoding: 'null', personal: 'erased' }
      : { ...rawValue(bytes), personal: 'opened' };
  }
  return described;
}

/** Avro values are decoded through the registry and shown as ciclo values; anything else as text or base64. */
async function describeValue(registry: AvroRegistry, m: IncomingMessage): Promise<DescribedValue> {
  if (!m.value) return { value: null, encoding: 'null' };
  if (m.value.length >= 5 && m.value[0] === 0) {
    try {
      const schemaId = m.value.readInt32BE(1);
      const definition = ALL_TOPICS.find((t) => t.name === m.topic);
      if (definition && definition.contract !== 'raw' && definition.contract !== 'private') {
        const contract = CONTRACTS[definition.contract];
        const record = await registry.decode<Record<string, unknown>>(m.value);
        return { value: contract.fromAvro(record), schemaId, encoding: 'avro' };
      }
      // Another topic (a test's, a staging copy): the contract whose schema can read the writer's, if any
      // (Avro resolution matches records by name), else the record as written.
      for (const contract of Object.values(CONTRACTS)) {
        const record = await registry
          .decode<Record<string, unknown>>(m.value, contract.avro)
          .catch(() => undefined);
        if (record) return { value: contract.fromAvro(record), schemaId, encoding: 'avro' };
      }
      const record = await registry.decode<Record<string, unknown>>(m.value);
      return { value: record, schemaId, encoding: 'avro' };
    } catch (err) {
      return { ...rawValue(m.value), decodeError: (err as Error).message };
    }
  }
  return rawValue(m.value);
}

function rawValue(value: Buffer): DescribedValue {
  const text = value.toString('utf8');
  return Buffer.from(text, 'utf8').equals(value) && !text.includes('\u0000')
    ? { value: text, encoding: 'utf8' }
    : { value: value.toString('base64'), encoding: 'base64' };
}

function toJsonLine(m: IncomingMessage, v: DescribedValue): Record<string, unknown> {
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: new Date(m.timestamp).toISOString(),
    key: m.key,
    headers: m.headers,
    ...(v.schemaId !== undefined ? { schemaId: v.schemaId } : {}),
    encoding: v.encoding,
    ...(v.decodeError ? { decodeError: v.decodeError } : {}),
    ...(v.personal ? { personal: v.personal } : {}),
    value: v.value,
  };
}

function formatHuman(m: IncomingMessage, v: DescribedValue): string {
  const headers = Object.keys(m.headers).length ? ` headers=${JSON.stringify(m.headers)}` : '';
  const schema = `${v.schemaId !== undefined ? ` schema=${v.schemaId}` : ''}${v.personal ? ` personal=${v.personal}` : ''}`;
  return `${m.topic}[${m.partition}]@${m.offset} ${new Date(m.timestamp).toISOString()} key=${m.key ?? '(null)'}${schema}${headers}\n  ${typeof v.value === 'string' ? v.value : JSON.stringify(v.value)}`;
}
