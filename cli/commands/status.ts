/**
 * `ciclo status [--json]`: each stage of the pipeline with its health and lag (infra/pipeline-health):
 * the collector's /health when its URL is known, the processors' and the projector's consumer groups.
 * Exits 3 when a stage is down, like `ciclo stack status` when a service is.
 */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { loadPipelineHealthConfig } from '../../infra/pipeline-health/config';
import { probePipeline, type PipelineReport } from '../../infra/pipeline-health/probe';
import { formatTable } from '../table';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function formatPipelineReport(report: PipelineReport): string {
  const stages = formatTable(
    report.stages.map((s) => ({
      STAGE: s.stage,
      NAME: s.name,
      HEALTH: s.health,
      STATE: s.state,
      MEMBERS: s.members,
      LAG: s.lag,
      DETAIL: s.detail,
    })),
  );
  const lagging = report.lag.filter((p) => p.lag > 0);
  const lines = [stages];
  if (lagging.length > 0)
    lines.push(
      '',
      formatTable(
        lagging.map((p) => ({ GROUP: p.group, TOPIC: p.topic, PARTITION: p.partition, LAG: p.lag })),
      ),
    );
  const counts = report.processorCounts;
  if (counts)
    lines.push(
      '',
      'error' in counts
        ? `processor metrics at ${counts.url}: ${counts.error}`
        : `processor (${counts.url}): ${counts.touchpointsIn} touchpoints in, ${counts.stageChanges} stage changes, ` +
            `${counts.late} late, ${counts.deadLetters} dead letters, ${counts.suppressed} of forgotten people dropped ` +
            '(since its partitions were restored)',
    );
  lines.push('', report.healthy ? 'pipeline healthy' : 'pipeline unhealthy: a stage is down');
  return lines.join('\n');
}

export function registerStatusCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('status')
    .description("each pipeline stage's health and consumer lag (exit 3 when a stage is down)")
    .option(
      '--topics-prefix <prefix>',
      'namespace of topics and groups, as given to process --topics-prefix or demo --namespace',
      'ciclo',
    )
    .option('--model <ids...>', "only these stage models' processors (default: every one that ever ran)")
    .option('--projector-group <id>', "the projector's group when not <prefix>-projector (project --group)")
    .option(
      '--collector-url <url>',
      "the collector's base URL (default CICLO_COLLECTOR_URL); unchecked without",
    )
    .option(
      '--processor-metrics <url>',
      "a processor's metrics URL for its counts (default CICLO_PROCESSOR_METRICS_URL)",
    )
    .option('--max-lag <records>', 'a stage lagging by more records than this is down')
    .option('--json', 'one JSON object: {healthy, stages, lag: [{group, topic, partition, lag}]}')
    .action(
      async (opts: {
        topicsPrefix: string;
        model?: string[];
        projectorGroup?: string;
        collectorUrl?: string;
        processorMetrics?: string;
        maxLag?: string;
        json?: boolean;
      }) => {
        const { endpoints } = getConfig();
        const env = loadPipelineHealthConfig(process.env);
        const maxLag = opts.maxLag === undefined ? undefined : Number(opts.maxLag);
        if (maxLag !== undefined && !(Number.isSafeInteger(maxLag) && maxLag >= 0))
          throw new CicloError(
            'CONFIG_INVALID',
            `--max-lag must be a record count >= 0, got "${opts.maxLag}"`,
          );
        const collectorUrl = opts.collectorUrl ?? env.collectorUrl;
        const processorMetricsUrl = opts.processorMetrics ?? env.processorMetricsUrl;
        const report = await probePipeline({
          brokers: endpoints.kafka.brokers,
          prefix: opts.topicsPrefix,
          ...(opts.model ? { models: opts.model } : {}),
          ...(opts.projectorGroup ? { projectorGroup: opts.projectorGroup } : {}),
          ...(collectorUrl ? { collectorUrl } : {}),
          ...(processorMetricsUrl ? { processorMetricsUrl } : {}),
          ...(maxLag !== undefined ? { maxLag } : {}),
        });
        say(opts.json ? JSON.stringify(report) : formatPipelineReport(report));
        if (!report.healthy) process.exitCode = 3;
      },
    );
}
