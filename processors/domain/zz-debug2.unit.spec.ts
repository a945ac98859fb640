import { isDeepStrictEqual } from 'node:util';
import { byEventTime } from '../../schemas/lanes';
import { journeys } from '../../test/support/journeys';
import { loadModel } from './model';
import { canonicalOrder, replay } from './replay';

it('debug2', () => {
  const model = loadModel('five-stage');
  for (let seed = 1; seed <= 12; seed++) {
    const events = [...journeys(`s${seed}`, 60)].sort(byEventTime);
    const one = canonicalOrder(replay(events, model, { partitions: 1, gracePeriodMs: 0 }).stageChanges);
    for (let n = 2; n <= 6; n++) {
      let x = seed;
      const shuffle = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
      const many = canonicalOrder(replay(events, model, { partitions: n, gracePeriodMs: 0, shuffle }).stageChanges);
      if (!isDeepStrictEqual(one, many)) console.log(`seed ${seed} n ${n} differs ${one.length} ${many.length}`);
    }
  }
});
