/**
 * The e2e figure of `npm run bench` alone, with the raw produce+consume baseline it is compared with measured
 * in the same run, so the pipeline can be tuned in a quick loop: `npm run build && node dist/bench/e2e.js`.
 * Prints the figures and their ratio; writes nothing.
 *
 * Options (environment): CICLO_BENCH_RAW=0 skips the baseline; CICLO_BENCH_RUNS (default 3) runs per figure;
 * CICLO_BENCH_PROFILE=<dir> profiles the processor and projector processes (see pipeline.ts).
 */
import { e2eEventsPerSec } from './pipeline';
import { benchSingleFigure } from './single';

benchSingleFigure({ name: 'e2eEventsPerSec', baseline: 'produceConsume', measure: e2eEventsPerSec });
