/**
 * `npm run bench:collector`: the collector figure of `npm run bench` alone, with the raw produce baseline
 * it is compared with measured in the same run, so the collector can be tuned in a quick loop. Prints the
 * figures and their ratio; writes nothing.
 *
 * Options (environment): CICLO_BENCH_RAW=0 skips the baseline; CICLO_BENCH_RUNS (default 3) runs per figure;
 * CICLO_BENCH_PROFILE=<dir> profiles the collector process (see pipeline.ts).
 */
import { collectorEventsPerSec } from './pipeline';
import { benchSingleFigure } from './single';

benchSingleFigure({ name: 'collectorEventsPerSec', baseline: 'produce', measure: collectorEventsPerSec });
