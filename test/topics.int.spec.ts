/** `ciclo topics ensure | list | tail` and schema evolution against the real registry. */
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectProducer } from '../infra/kafka/producer';
import { CicloError } from '../infra/errors';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { CONTRACTS } from '../schemas/contracts';
import { TOUCHPOINT_EXAMPLES } from '../schemas/examples';
import { createSerde } from '../infra/registry/serde';
import { ALL_TOPICS, TOPICS, valueSubject } from '../schemas/topics';
import { runCiclo } from './support/cli';
import { testConfig, uniqueName } from './support/services';

const { endpoints } = testConfig();

describe('ciclo topics', () => {
  it('ensure creates every topic and registers every schema, and a second run changes nothing', async () => {
    const first = await runCiclo(['topics', 'ensure']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const second = await runCiclo(['topics', 'ensure']);
    expect(second.code).toBe(0);
    for (const t of ALL_TOPICS) expect(second.stdout).toContain(`topic ${t.name}: exists`);
    expect(second.stdout).not.toMatch(/created|registered\)/);
    expect(second.stdout).toContain(`subject ${valueSubject(TOPICS.stageChanges.name)}: schema id`);
    expect(second.stdout).toMatch(/ciclo\.stage-changes-value: .*unchanged\), FULL_TRANSITIVE/);
    expect(second.stdout).toMatch(/ciclo\.touchpoints-value: .*unchanged\), BACKWARD_TRANSITIVE/);

    const registry = createAvroRegistry(endpoints.schemaRegistry.url);
    expect(await registry.getCompatibility(valueSubject(TOPICS.customerSnapshots.name))).toBe(
      'FULL_TRANSITIVE',
    );

    const list = await runCiclo(['topics', 'list']);
    const names = list.stdout.trim().split('\n');
    for (const t of ALL_TOPICS) expect(names).toContain(t.name);
    expect(names.some((n) => n.startsWith('__'))).toBe(false);
  });

  it('tail prints decoded touchpoints with key, partition, offset and headers as JSON lines', async () => {
    // A touchpoint topic of the test's own: nothing reaches the ciclo.touchpoints a pipeline reads.
    const topic = uniqueName('it-tail-touchpoints');
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.ensureTopics([{ name: topic, partitions: 2 }]);
    await admin.close();
    const registry = createAvroRegistry(endpoints.schemaRegistry.url);
    const serde = await createSerde(registry, CONTRACTS.touchpoint, valueSubject(topic));
    const marker = uniqueName('tail');
    const event = { ...TOUCHPOINT_EXAMPLES.PurchaseCompleted, eventId: marker, customerId: marker };
    const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: 'it-tail' });
    await producer.send(topic, [
      { key: marker, value: await serde.encode(event), headers: { 'ciclo-test': marker } },
    ]);
    await producer.close();

    const tail = await runCiclo(['topics', 'tail', topic, '--from-beginning', '--json', '--timeout', '20']);
    expect(tail.code).toBe(0);
    const lines = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ours = lines.find((l) => l.key === marker);
    expect(ours).toMatchObject({
      topic,
      key: marker,
      headers: { 'ciclo-test': marker },
      encoding: 'avro',
      schemaId: serde.schemaId,
    });
    expect(typeof ours!.partition).toBe('number');
    expect(ours!.offset).toMatch(/^\d+$/);
    expect(JSON.parse(JSON.stringify(ours!.value))).toEqual(JSON.parse(JSON.stringify(event)));
  });

  it('tail names a missing topic and a bad --max clearly', async () => {
    const missing = await runCiclo(['topics', 'tail', 'no.such.topic', '--max', '1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('ciclo: topic "no.such.topic" does not exist (see `ciclo topics list`)\n');
    const badMax = await runCiclo(['topics', 'tail', TOPICS.touchpoints.name, '--max', 'ten']);
    expect(badMax.stderr).toContain('--max must be a positive whole number, got "ten"');
  });
});

describe('schema evolution in the registry', () => {
  const v1 = {
    type: 'record',
    name: 'Visit',
    namespace: 'dev.ciclo.it',
    fields: [
      { name: 'visitId', type: 'string' },
      { name: 'amountMinor', type: 'long' },
    ],
  };
  const v2 = { ...v1, fields: [...v1.fields, { name: 'channel', type: ['null', 'string'], default: null }] };
  const incompatible = { ...v1, fields: [...v1.fields, { name: 'country', type: 'string' }] };

  it('refuses an incompatible change (a new required field) with a message naming the subject', async () => {
    const registry = createAvroRegistry(endpoints.schemaRegistry.url);
    const subject = `${uniqueName('it-evolution')}-value`;
    await registry.setCompatibility(subject, 'BACKWARD_TRANSITIVE');
    await registry.register(subject, v1);
    const refused = registry.register(subject, incompatible);
    await expect(refused).rejects.toBeInstanceOf(CicloError);
    await expect(refused).rejects.toMatchObject({
      code: 'SCHEMA_INCOMPATIBLE',
      message: expect.stringContaining(`subject "${subject}" is incompatible`) as unknown,
    });
    expect(await registry.listVersions(subject)).toHaveLength(1);
  });

  it('v2 (an added optional field) reads v1 data, and v1 reads v2 data', async () => {
    const registry = createAvroRegistry(endpoints.schemaRegistry.url);
    const subject = `${uniqueName('it-evolution')}-value`;
    await registry.setCompatibility(subject, 'FULL_TRANSITIVE');
    const v1Id = await registry.register(subject, v1);
    const v2Id = await registry.register(subject, v2);
    expect(v2Id).not.toBe(v1Id);

    const writtenByV1 = await registry.encode(v1Id, { visitId: 'a', amountMinor: 100 });
    expect(await registry.decode(writtenByV1, v2)).toEqual({ visitId: 'a', amountMinor: 100, channel: null });

    const writtenByV2 = await registry.encode(v2Id, { visitId: 'b', amountMinor: 200, channel: 'email' });
    expect(await registry.decode(writtenByV2, v1)).toEqual({ visitId: 'b', amountMinor: 200 });
  });

  it('encoding an invalid touchpoint fails before Kafka, naming the field path and the rule', async () => {
    const registry = createAvroRegistry(endpoints.schemaRegistry.url);
    const serde = await createSerde(registry, CONTRACTS.touchpoint, valueSubject(TOPICS.touchpoints.name));
    const bad = { ...TOUCHPOINT_EXAMPLES.SurveyAnswered, payload: { surveyId: 's1', nps: 12 } };
    await expect(serde.encode(bad)).rejects.toThrow(
      'invalid touchpoint: payload.nps: NPS must be 0-10 [too_big]',
    );
  });
});
