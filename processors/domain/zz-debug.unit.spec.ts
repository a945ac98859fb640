import { isDeepStrictEqual } from 'node:util';
import { denseLinks } from '../../test/support/journeys';
import { loadModel } from './model';
import { asImportRun, canonicalOrder, replay } from './replay';

it('debug', () => {
  const model = loadModel('five-stage');
  const seed = Number(process.env.SEED ?? 10);
  const events = denseLinks(seed);
  const d0 = events[0]!.occurredAt;
  for (const e of events) if (!e.customerId?.startsWith('clock')) console.log(JSON.stringify({ t: (e.occurredAt - d0) / 86400000 + 1, id: e.eventId, type: e.type, c: e.customerId, a: e.anonymousId, prev: (e.payload as { previousId?: string }).previousId }));
  const outcome = (r: ReturnType<typeof replay>) => ({
    changes: canonicalOrder(r.stageChanges).map((c) => ({ ...c, occurredAt: (c.occurredAt - d0) / 86400000 + 1 })),
    states: r.partitions.flatMap((p) => [...p.customers.values()]).sort((a, b) => (a.id < b.id ? -1 : 1)).map((st) => ({ ...st, applied: [...st.applied].sort() })),
    held: r.partitions.reduce((held, p) => held + p.heldCustomers, 0),
  });
  const input = process.env.IMP ? asImportRun('d', events) : events;
  const one = outcome(replay(input, model, { partitions: 1, gracePeriodMs: 0 }));
  for (let n = 2; n <= 6; n++) {
    const many = outcome(replay(input, model, { partitions: n, gracePeriodMs: 0 }));
    if (!isDeepStrictEqual(one, many)) {
      console.log(`partitions ${n} held ${many.held}`);
      const a = one.changes.map((c) => JSON.stringify(c)), b = many.changes.map((c) => JSON.stringify(c));
      console.log('only one:\n' + a.filter((x) => !b.includes(x)).join('\n') + '\nonly many:\n' + b.filter((x) => !a.includes(x)).join('\n'));
      const sa = one.states.map((c) => JSON.stringify(c)), sb = many.states.map((c) => JSON.stringify(c));
      console.log('states only one:\n' + sa.filter((x) => !sb.includes(x)).join('\n') + '\nstates only many:\n' + sb.filter((x) => !sa.includes(x)).join('\n'));
      break;
    }
  }
});
