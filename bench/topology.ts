/**
 * What ciclo's Kafka topology alone allows (pipeline.ts `topologyEventsPerSec`): a ceiling for e2eEventsPerSec,
 * with the raw produce+consume baseline of the same run: `npm run build && node dist/bench/topology.js`.
 * A diagnostic: prints the figures and their ratio; writes nothing, and no target applies.
 */
import { topologyEventsPerSec } from './pipeline';
import { benchSingleFigure } from './single';

benchSingleFigure({
  name: 'topologyEventsPerSec',
  baseline: 'produceConsume',
  measure: topologyEventsPerSec,
});
