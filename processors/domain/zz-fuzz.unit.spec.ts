import { isDeepStrictEqual } from 'node:util';
import { denseLinks } from '../../test/support/journeys';
import { loadModel } from './model';
import { asImportRun, canonicalOrder, replay } from './replay';

it('fuzz', () => {
  const model = loadModel('five-stage');
  const outcome = (r: ReturnType<typeof replay>): unknown => ({
    changes: canonicalOrder(r.stageChanges),
    states: r.partitions
      .flatMap((p) => [...p.customers.values()])
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((st) => ({ ...st, applied: [...st.applied].sort() })),
    held: r.partitions.reduce((held, p) => held + p.heldCustomers, 0),
  });
  const differing: string[] = [];
  const N = Number(process.env.FUZZ_N ?? 2000);
  for (let seed = 1; seed <= N; seed++) {
    const events = denseLinks(seed);
    const one = outcome(replay(events, model, { partitions: 1, gracePeriodMs: 0 }));
    const truth = outcome(replay(asImportRun('dense', events), model, { partitions: 1, gracePeriodMs: 0 }));
    let bad = false;
    for (let partitions = 2; partitions <= 6; partitions++) {
      if (!isDeepStrictEqual(outcome(replay(events, model, { partitions, gracePeriodMs: 0 })), one)) { bad = true; differing.push(`${seed}/${partitions}`); }
      if (!isDeepStrictEqual(outcome(replay(asImportRun('dense', events), model, { partitions, gracePeriodMs: 0 })), truth)) { bad = true; differing.push(`${seed}/${partitions}i`); }
      let x = seed * 7 + partitions;
      const shuffle = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
      if (!isDeepStrictEqual(outcome(replay(events, model, { partitions, gracePeriodMs: 0, shuffle })), one)) { bad = true; differing.push(`${seed}/${partitions}s`); }
    }
    void bad;
  }
  const seeds = new Set(differing.map((d) => d.split('/')[0]));
  console.log(`differing seeds ${seeds.size} of ${N}: ${[...seeds].slice(0, 30).join(' ')}`);
});
