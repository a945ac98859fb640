import { CicloError } from '../../../infra/errors';
import type { IncomingMessage } from '../../../infra/kafka/types';
import type { LifecycleStateRecord } from '../../../schemas/outputs';
import type { ContractSerde } from '../../../infra/registry/serde';
import { initialState } from '../../domain/customer';
import { RecentEvents, type RecentEventsRecord } from '../../domain/recent-events';
import { changelogKey, HELD_ITEM_KEY_PREFIX, PARTITION_KEY, RECENT_KEY_PREFIX } from './keys';
import { CHANGELOG_FORMAT_VERSION } from './records';
import { restoreChangelog } from './restore';

const serde = {
  decode: (message: Buffer) =>
    Promise.resolve({ ok: true as const, value: JSON.parse(message.toString()) as LifecycleStateRecord }),
} as unknown as ContractSerde<LifecycleStateRecord>;

function record(
  id: string,
  kind: LifecycleStateRecord['kind'],
  state: string,
  formatVersion = CHANGELOG_FORMAT_VERSION,
): IncomingMessage {
  const envelope: LifecycleStateRecord = {
    kind,
    modelId: 'five-stage',
    modelVersion: 1,
    formatVersion,
    state,
  };
  return {
    topic: 'state',
    partition: 2,
    offset: '0',
    key: changelogKey('five-stage', id),
    value: Buffer.from(JSON.stringify(envelope)),
    headers: {},
    timestamp: 0,
  };
}

async function refusal(records: IncomingMessage[]): Promise<CicloError> {
  try {
    await restoreChangelog(2, 'five-stage', records, serde);
  } catch (err) {
    if (err instanceof CicloError) return err;
    throw err;
  }
  throw new Error('the restore did not refuse');
}

describe('restoring a partition from its changelog', () => {
  const ann = initialState('ann', 'reach', 1000);

  it('restores customers, redirects and the checkpoint, with clocks written as null back to -Infinity', async () => {
    const restored = await restoreChangelog(
      2,
      'five-stage',
      [
        record('ann', 'customer', JSON.stringify(ann)),
        record('a-1', 'redirect', JSON.stringify({ into: 'ann', at: 5 })),
        record(
          PARTITION_KEY,
          'partition',
          JSON.stringify({ watermark: null, lanes: { live: null, open: {}, closed: null } }),
        ),
      ],
      serde,
    );
    expect(restored.customers.get('ann')).toMatchObject({ id: 'ann', stage: 'reach' });
    expect(restored.redirects.get('a-1')).toBe('ann');
    expect(restored.checkpoint?.watermark).toBe(-Infinity);
  });

  it("refuses a customer's state that is not one, naming the partition, the key and the field", async () => {
    const err = await refusal([record('ann', 'customer', JSON.stringify({ ...ann, stage: 7 }))]);
    expect(err.code).toBe('CHANGELOG_CORRUPT');
    expect(err.message).toContain('partition 2');
    expect(err.message).toContain('five-stage/ann');
    expect(err.message).toContain('stage');
  });

  it('refuses a record that is not JSON, and one of a format newer than this version reads', async () => {
    expect((await refusal([record('ann', 'customer', '{"id":')])).message).toContain('not JSON');
    const newer = await refusal([
      record('ann', 'customer', JSON.stringify(ann), CHANGELOG_FORMAT_VERSION + 1),
    ]);
    expect(newer.message).toContain(`format ${CHANGELOG_FORMAT_VERSION + 1}`);
  });

  it('restores the recent events its records hold, less those a tombstone removed, and refuses one that is not a list of hashes', async () => {
    const recent = new RecentEvents({ windowMs: 1000, maxEvents: 100 });
    recent.takeFirst('ann', 'e1', 10);
    const [kept] = recent.takeChanges().records;
    recent.takeFirst('ann', 'e2', 11);
    const [gone] = recent.takeChanges().records;
    const asRecord = ({ seq, ...r }: RecentEventsRecord): IncomingMessage =>
      record(`${RECENT_KEY_PREFIX}${seq}`, 'partition', JSON.stringify(r));
    const tombstone = { ...asRecord(gone!), value: null };
    const restored = await restoreChangelog(
      2,
      'five-stage',
      [asRecord(kept!), asRecord(gone!), tombstone],
      serde,
    );
    expect(restored.recentEvents).toEqual([kept]);
    const again = new RecentEvents({ windowMs: 1000, maxEvents: 100 }, restored.recentEvents);
    expect([again.takeFirst('ann', 'e1', 12), again.takeFirst('ann', 'e2', 12)]).toEqual([false, true]);
    const bad = await refusal([asRecord({ ...kept!, events: 'AAAAAA' })]);
    expect(bad.message).toContain(`${RECENT_KEY_PREFIX}0`);
    expect(bad.message).toContain('events');
    expect((await refusal([record(`${RECENT_KEY_PREFIX}x`, 'partition', '{}')])).message).toContain('recent');
  });

  it("refuses a held customer's item whose key names no place, and buffered items without a checkpoint", async () => {
    const place = await refusal([record(`${HELD_ITEM_KEY_PREFIX}x/ann`, 'partition', '{}')]);
    expect(place.message).toContain('place');
    const item = { eventId: 'e1', type: 'PageViewed', occurredAt: 1, receivedAt: 1 };
    const orphan = await refusal([
      record('__partition__/pending/touchpoint/e1', 'partition', JSON.stringify(item)),
    ]);
    expect(orphan.message).toContain('held customers, handoffs or buffered items');
  });

  it('refuses a redirect without its customer id, and a record of a kind that belongs elsewhere', async () => {
    expect((await refusal([record('a-1', 'redirect', JSON.stringify({ to: 'ann' }))])).message).toContain(
      'into',
    );
    expect((await refusal([record('ann', 'claim', JSON.stringify(ann))])).message).toContain('kind claim');
  });
});

describe('a restore lets the event loop run', () => {
  it('fires a timer while it reads a changelog that takes longer than the interval', async () => {
    const spinning = {
      decode(message: Buffer) {
        const until = performance.now() + 0.05;
        while (performance.now() < until); // a slow decode: 3,000 records take about 150 ms
        return serde.decode(message);
      },
    } as unknown as ContractSerde<LifecycleStateRecord>;
    const records = Array.from({ length: 3000 }, (_, i) =>
      record(`c${i}`, 'customer', JSON.stringify(initialState(`c${i}`, 'reach', 1000))),
    );
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const restored = restoreChangelog(2, 'five-stage', records, spinning).then(() => fired);
    expect(await restored).toBe(true);
  });
});
