/**
 * Where the stages that answer over HTTP are, for `ciclo status` and the dashboard's pipeline panel: read
 * from the environment once at their entry point. Neither is required; a stage whose URL is not known is
 * not checked.
 * - CICLO_COLLECTOR_URL: the collector's base URL (`http://127.0.0.1:8090`); its GET /health is asked.
 * - CICLO_PROCESSOR_METRICS_URL: a processor's metrics endpoint (`http://127.0.0.1:9464/metrics`, from
 *   `ciclo process --metrics-port 9464`), for its late and dead-letter counts.
 */
import { z } from 'zod';
import { CicloError } from '../errors';

const Schema = z.object({
  CICLO_COLLECTOR_URL: z.url().optional(),
  CICLO_PROCESSOR_METRICS_URL: z.url().optional(),
});

export interface PipelineHealthConfig {
  readonly collectorUrl?: string;
  readonly processorMetricsUrl?: string;
}

export function loadPipelineHealthConfig(env: NodeJS.ProcessEnv): PipelineHealthConfig {
  const parsed = Schema.safeParse(env);
  if (!parsed.success)
    throw new CicloError(
      'CONFIG_INVALID',
      `invalid environment:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  const e = parsed.data;
  return Object.freeze({
    ...(e.CICLO_COLLECTOR_URL ? { collectorUrl: e.CICLO_COLLECTOR_URL } : {}),
    ...(e.CICLO_PROCESSOR_METRICS_URL ? { processorMetricsUrl: e.CICLO_PROCESSOR_METRICS_URL } : {}),
  });
}
