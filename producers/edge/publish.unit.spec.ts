import { partitionFor } from '../../schemas/partitioner';
import { LINK_COPY_HEADER } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { inMemoryProducer, jsonTouchpointSerde } from './fakes';
import { publishTouchpoints } from './publish';
import { memoryTable } from '../../infra/privacy/fakes';
import { keyRingOver } from '../../infra/privacy/key-ring';
import { touchpointPrivacy } from '../../infra/privacy/personal-data';
import { suppressionListOver } from '../../infra/privacy/suppression';
import { pseudonymOf } from '../../schemas/pseudonym';

const at = Date.UTC(2026, 0, 1);
const base = { occurredAt: at, receivedAt: at, source: { kind: 'snippet' as const, name: 'web' } };

describe('publishTouchpoints', () => {
  it('writes a link to every partition, the copies marked; other touchpoints once', async () => {
    const producer = inMemoryProducer();
    const touchpoints: Touchpoint[] = [
      { ...base, eventId: 'v1', type: 'PageViewed', anonymousId: 'anon-1', payload: { path: '/' } },
      { ...base, eventId: 'i1', type: 'Identified', customerId: 'c-1', anonymousId: 'anon-1', payload: {} },
      { ...base, eventId: 'a1', type: 'Aliased', customerId: 'c-2', payload: { previousId: 'c-1' } },
      {
        ...base,
        eventId: 'b1',
        type: 'PurchaseCompleted',
        customerId: 'c-2',
        anonymousId: 'anon-1',
        payload: { orderId: 'o1', lineItems: [], amountMinor: 100, currency: 'EUR' },
      },
    ];
    const outcome = await publishTouchpoints(
      {
        producer,
        serde: jsonTouchpointSerde(),
        sendTimeoutMs: 1000,
        topic: 't',
        partitions: 3,
        deadLetterTopic: 't.dlq',
      },
      touchpoints,
    );
    expect(outcome).toEqual({ ok: true, produced: 4, suppressed: 0 });
    const sent = producer.sent.flatMap((s) => s.messages);
    const home = (key: string): number => partitionFor(key, 3);
    const others = (key: string): number[] => [0, 1, 2].filter((p) => p !== home(key));
    expect(sent.map((m) => [m.key, m.partition ?? null, m.headers?.[LINK_COPY_HEADER] ?? null])).toEqual([
      ['anon-1', null, null],
      ['c-1', null, null],
      ...others('c-1').map((p) => ['c-1', p, '1']),
      ['c-2', null, null],
      ...others('c-2').map((p) => ['c-2', p, '1']),
      ['c-2', null, null],
    ]);
    // A copy is the same bytes as the fact.
    expect(sent[2]!.value).toEqual(sent[1]!.value);
  });

  it('with privacy: drops touchpoints of forgotten ids (counted), seals personal fields and dead letters', async () => {
    const producer = inMemoryProducer();
    const secret = Buffer.alloc(32, 3);
    const list = suppressionListOver(memoryTable(), secret);
    await list.add([pseudonymOf(secret, 'gone')], 'r1', at);
    const privacy = touchpointPrivacy(secret, keyRingOver(memoryTable(), secret), list);
    const outcome = await publishTouchpoints(
      {
        producer,
        serde: jsonTouchpointSerde(),
        sendTimeoutMs: 1000,
        topic: 't',
        partitions: 1,
        deadLetterTopic: 't.dlq',
        privacy,
      },
      [
        { ...base, eventId: 'g1', type: 'PageViewed', anonymousId: 'gone', payload: { path: '/x' } },
        {
          ...base,
          eventId: 'k1',
          type: 'Identified',
          customerId: 'kept',
          payload: { email: 'k@example.org', name: 'Kay' },
        },
      ],
      [{ key: 'kept', value: Buffer.from('{"traits":{"email":"k@example.org"}}') }],
    );
    expect(outcome).toEqual({ ok: true, produced: 1, suppressed: 1 });
    const sent = producer.sent.flatMap((s) => s.messages);
    expect(sent.map((m) => m.key)).toEqual(['kept', 'kept']);
    for (const m of sent) expect(m.value!.toString()).not.toMatch(/k@example\.org|Kay/);
    const value = JSON.parse(sent[0]!.value!.toString()) as Touchpoint;
    expect((await privacy.open(value)).touchpoint).toMatchObject({
      payload: { email: 'k@example.org', name: 'Kay' },
    });
    expect((await privacy.openBytes('kept', 'kept', sent[1]!.value!))!.toString()).toContain('k@example.org');
  });
});
