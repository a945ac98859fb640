import { byEventTime } from '../../schemas/lanes';
import { journeys } from '../../test/support/journeys';
import { loadModel } from './model';
import { canonicalOrder, replay } from './replay';

it('debug3', () => {
  const model = loadModel('five-stage');
  const events = [...journeys(`s1`, 60)].sort(byEventTime);
  const fmt = (r: ReturnType<typeof replay>) => canonicalOrder(r.stageChanges).map((c) => `${c.customerId} ${c.sequence} ${c.toStage} ${c.ruleId} ${c.occurredAt}`);
  const a = fmt(replay(events, model, { partitions: 1, gracePeriodMs: 0 }));
  const r2 = replay(events, model, { partitions: 2, gracePeriodMs: 0 });
  const b = fmt(r2);
  const diffIds = new Set([...a.filter((x) => !b.includes(x)), ...b.filter((x) => !a.includes(x))].map((l) => l.split(' ')[0]));
  for (const id of diffIds) {
    console.log('ONE\n' + a.filter((l) => l.startsWith(id + ' ')).join('\n') + '\nMANY\n' + b.filter((l) => l.startsWith(id + ' ')).join('\n'));
    const n = id.split('-c')[1];
    console.log(events.filter((e) => e.customerId === id || e.anonymousId === `s1-a${n}` || (e.payload as {previousId?: string}).previousId?.includes(`c${n}`) || e.customerId?.startsWith(id)).map((e) => `${e.eventId} ${e.type} c=${e.customerId} a=${e.anonymousId} p=${(e.payload as {previousId?: string}).previousId} ${e.occurredAt}`).join('\n'));
  }
  console.log(JSON.stringify(r2.counters));
});
