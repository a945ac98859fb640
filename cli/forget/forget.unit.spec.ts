import type { TopicAdmin } from '../../infra/kafka/admin';
import type { MessageProducer } from '../../infra/kafka/producer';
import type { OutgoingMessage } from '../../infra/kafka/types';
import type { PrivacyConnection } from '../../infra/privacy/connect';
import { memoryTable } from '../../infra/privacy/fakes';
import { keyRingOver } from '../../infra/privacy/key-ring';
import { touchpointPrivacy } from '../../infra/privacy/personal-data';
import { suppressionListOver } from '../../infra/privacy/suppression';
import { forgetMarkerOf } from '../../schemas/forget';
import { emailAnonymousId, pseudonymOf } from '../../schemas/pseudonym';
import { namespacedTopics } from '../../schemas/topics';
import { forgetPerson, type ForgetDeps, type PersonStore } from './forget';

const secret = Buffer.alloc(32, 9);
const topics = namespacedTopics('t');
const PROCESSOR = 't-processor-five-stage';
const PROJECTOR = 't-projector';

/**
 * A pipeline around the forget: Kafka's offsets, where each reader commits everything as soon as it is
 * asked (or never, for one that is not running); a ClickHouse that knows the person's links.
 */
function pipeline(options: { running: readonly string[]; links: Record<string, string[]> }) {
  const sent: { topic: string; messages: readonly OutgoingMessage[] }[] = [];
  const ends = new Map<string, number>();
  const admin = {
    partitionCounts: (names: readonly string[]) => Promise.resolve(new Map(names.map((n) => [n, 3]))),
    describeGroups: (groups: readonly string[]) =>
      Promise.resolve(
        groups.map((group) => ({ group, state: 'Stable', members: options.running.includes(group) ? 1 : 0 })),
      ),
    endOffsets: (topic: string) => Promise.resolve(new Map([0, 1, 2].map((p) => [p, ends.get(topic) ?? 0]))),
    committedOffsets: (group: string, topic: string) =>
      Promise.resolve(
        new Map([0, 1, 2].map((p) => [p, options.running.includes(group) ? (ends.get(topic) ?? 0) : 0])),
      ),
  } as unknown as TopicAdmin;
  const producer: MessageProducer = {
    send(topic, messages) {
      sent.push({ topic, messages });
      ends.set(topic, (ends.get(topic) ?? 0) + 1);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  const keyTable = memoryTable();
  const keys = keyRingOver(keyTable, secret);
  const suppression = suppressionListOver(memoryTable(), secret);
  const privacy: PrivacyConnection = {
    privacy: touchpointPrivacy(secret, keys, suppression),
    keys,
    suppression,
    close: () => Promise.resolve(),
  };
  const erased: string[][] = [];
  const clickhouse: PersonStore = {
    findPersonIds: (id) =>
      Promise.resolve({
        ids: [id, ...(options.links[id] ?? [])],
        emails: ['ada@example.org'],
        names: ['Ada'],
        rounds: 1,
      }),
    erase: (ids) => {
      erased.push([...ids]);
      return Promise.resolve({
        deleted: { touchpoints: erased.length === 1 ? 5 : 0 },
        scrubbed: {},
        mutations: 1,
      });
    },
  };
  const deps: ForgetDeps = {
    admin,
    producer,
    privacy,
    clickhouse,
    secret,
    topics,
    groups: { processors: [PROCESSOR], projector: PROJECTOR },
    waitMs: 200,
  };
  return { deps, sent, erased, keyTable, privacy };
}

describe('ciclo forget', () => {
  it('given running readers: suppresses every id, marks every partition, destroys the keys, then erases ClickHouse', async () => {
    const { deps, sent, erased, privacy, keyTable } = pipeline({
      running: [PROCESSOR, PROJECTOR],
      links: { 'cust-ada': ['anon-ada'] },
    });
    await privacy.keys.keysFor(['cust-ada', 'anon-ada', 'cust-bob']);
    const report = await forgetPerson('cust-ada', deps);
    expect(report).toMatchObject({
      id: 'cust-ada',
      ids: 2,
      suppressed: 2,
      markers: 3,
      keysDestroyed: 2,
      complete: true,
      pending: [],
      clickhouseRowsDeleted: { touchpoints: 5 },
    });
    expect(privacy.suppression.isForgotten('anon-ada')).toBe(true);
    expect(privacy.suppression.isForgotten('cust-bob')).toBe(false);
    const markers = sent.filter((s) => s.topic === topics.touchpoints.name).flatMap((s) => s.messages);
    expect(markers.map((m) => m.partition)).toEqual([0, 1, 2]);
    expect(forgetMarkerOf(markers[0]!.headers!)).toEqual({
      request: report.request,
      pseudonyms: [pseudonymOf(secret, 'cust-ada'), pseudonymOf(secret, 'anon-ada')],
    });
    // Ids travel as pseudonyms only.
    expect(JSON.stringify(markers)).not.toContain('ada');
    expect([...keyTable.keys()].map((k) => k.split('/')[0])).toEqual([pseudonymOf(secret, 'cust-bob')]);
    expect(erased).toEqual([['cust-ada', 'anon-ada']]);
  });

  it('given an email, also forgets its email id', async () => {
    const { deps, erased } = pipeline({ running: [PROCESSOR, PROJECTOR], links: {} });
    const report = await forgetPerson('Ada@Example.org', deps);
    expect(report.ids).toBe(2);
    expect(erased[0]).toEqual([emailAnonymousId(secret, 'Ada@Example.org'), 'Ada@Example.org']);
  });

  it('given a processor that is not running: erases what it can, and says who finishes it (not complete)', async () => {
    const { deps, erased } = pipeline({ running: [PROJECTOR], links: {} });
    const report = await forgetPerson('cust-ada', deps);
    expect(report.complete).toBe(false);
    expect(report.pending).toEqual([
      `processor group ${PROCESSOR} is not running: it erases the person when it runs again`,
    ]);
    expect(report.readers).toEqual([
      { group: PROCESSOR, role: 'processor', running: false, done: false },
      { group: PROJECTOR, role: 'projector', running: true, done: true },
    ]);
    // The suppression list keeps a stopped projector or processor from writing the person again.
    expect(erased).toHaveLength(1);
  });

  it('given a running reader that does not pass the marker in time: ClickHouse waits for a second run', async () => {
    const { deps, erased } = pipeline({ running: [PROCESSOR, PROJECTOR], links: {} });
    const stuck = { ...deps, admin: { ...deps.admin, committedOffsets: () => Promise.resolve(new Map()) } };
    const report = await forgetPerson('cust-ada', stuck);
    expect(report.complete).toBe(false);
    expect(report.pending).toContain(
      'ClickHouse was not erased yet, since a running reader could still write the person',
    );
    expect(erased).toEqual([]);
  });

  it('run twice: the second finds nothing left to destroy', async () => {
    const { deps } = pipeline({ running: [PROCESSOR, PROJECTOR], links: {} });
    await deps.privacy.keys.keysFor(['cust-ada']);
    expect((await forgetPerson('cust-ada', deps)).keysDestroyed).toBe(1);
    const again = await forgetPerson('cust-ada', deps);
    expect(again).toMatchObject({
      complete: true,
      keysDestroyed: 0,
      clickhouseRowsDeleted: { touchpoints: 0 },
    });
  });
});
