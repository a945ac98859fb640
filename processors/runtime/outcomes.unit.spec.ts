import type { Logger } from '../../infra/log';
import type { Touchpoint } from '../../schemas/touchpoint';
import { loadModel } from '../runtime/model-file';
import { PartitionLifecycle } from '../domain/partition';
import { noteNotable, totalOutcomes } from './outcomes';

const DAY = 86_400_000;
const visit = (eventId: string, customerId: string, day: number): Touchpoint => ({
  eventId,
  type: 'PageViewed',
  customerId,
  occurredAt: day * DAY,
  receivedAt: day * DAY,
  source: { kind: 'api', name: 'test' },
  payload: { path: '/' },
});

function recordingLog(): { log: Logger; warnings: { fields: object; message: string }[] } {
  const warnings: { fields: object; message: string }[] = [];
  const log = { warn: (fields: object, message: string) => warnings.push({ fields, message }) };
  return { log: log as unknown as Logger, warnings };
}

describe('ingest outcomes in the log', () => {
  it('a batch that applied a touchpoint late says how many and why; one that did not says nothing', () => {
    const p = new PartitionLifecycle(loadModel('five-stage'), { gracePeriodMs: 0 });
    const { log, warnings } = recordingLog();
    let noted = noteNotable(log, 4, p);
    p.ingest(visit('a', 'ann', 10));
    p.ingest(visit('b', 'ann', 11));
    noted();
    expect(warnings).toEqual([]);
    noted = noteNotable(log, 4, p);
    p.ingest(visit('c', 'ann', 5)); // older than what ann has
    p.ingest({ ...visit('d', 'bob', 12), occurredAt: 12 * DAY + 365 * DAY }); // a clock a year ahead
    noted();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({ partition: 4, late: 1, lateBehindCustomer: 1, clamped: 1 });
  });

  it('sums the counters of every partition', () => {
    const model = loadModel('five-stage');
    const [p, q] = [0, 1].map(() => new PartitionLifecycle(model, { gracePeriodMs: 0 }));
    p!.ingest(visit('a', 'ann', 1));
    q!.ingest(visit('b', 'bob', 1));
    q!.ingest(visit('b', 'bob', 1));
    expect(totalOutcomes([p!, q!])).toMatchObject({ applied: 2, duplicates: 1 });
  });
});
