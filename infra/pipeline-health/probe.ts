/**
 * Looks at a running pipeline from outside, for `ciclo status` and the dashboard: the collector's GET
 * /health, the consumer groups of the processors and the projector with their lag (Kafka admin), and a
 * processor's counters from its /metrics when its URL is known. Reads only; evaluate.ts judges.
 */
import { errorMessage } from '../errors';
import { connectTopicAdmin } from '../kafka/admin';
import { namespacedTopics, processorGroupOf, projectorGroupOf } from '../../schemas/topics';
import { redactUrl } from '../url-credentials';
import { evaluatePipeline, type CollectorProbe, type GroupProbe, type PipelineStatus } from './evaluate';
import { processorCountsOf, type ProcessorCounts } from './scrape';

export interface PipelineTargets {
  readonly brokers: readonly string[];
  /** The namespace of topics and groups (`ciclo`; `ciclo demo --namespace`, `ciclo process --topics-prefix`). */
  readonly prefix: string;
  /** The stage models whose processors to check; every `<prefix>-processor-*` group when absent. */
  readonly models?: readonly string[];
  /** The projector's group when not `<prefix>-projector` (`ciclo project --group`). */
  readonly projectorGroup?: string;
  readonly collectorUrl?: string;
  readonly processorMetricsUrl?: string;
  readonly maxLag?: number;
  /** How long an HTTP probe may take. */
  readonly timeoutMs?: number;
}

export interface PipelineReport extends PipelineStatus {
  /** A processor's counters, when its metrics URL was given: or why they could not be read. */
  readonly processorCounts?: ({ readonly url: string } & ProcessorCounts) | { url: string; error: string };
}

async function get(url: string, timeoutMs: number): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
}

async function probeCollector(url: string, timeoutMs: number): Promise<CollectorProbe> {
  const shown = redactUrl(url);
  try {
    const response = await get(new URL('/health', url).toString(), timeoutMs);
    await response.body?.cancel();
    return { url: shown, status: response.status };
  } catch (err) {
    return { url: shown, error: errorMessage(err) };
  }
}

async function probeProcessorCounts(
  url: string,
  timeoutMs: number,
): Promise<NonNullable<PipelineReport['processorCounts']>> {
  const shown = redactUrl(url);
  try {
    const response = await get(url, timeoutMs);
    const text = await response.text();
    if (!response.ok) return { url: shown, error: `HTTP ${response.status}` };
    return { url: shown, ...processorCountsOf(text) };
  } catch (err) {
    return { url: shown, error: errorMessage(err) };
  }
}

async function probeGroups(targets: PipelineTargets): Promise<GroupProbe[]> {
  const topics = namespacedTopics(targets.prefix);
  const admin = await connectTopicAdmin(targets.brokers, undefined, { retries: 2 });
  try {
    const processorPrefix = processorGroupOf(targets.prefix, '');
    const processors =
      targets.models?.map((m) => processorGroupOf(targets.prefix, m)) ??
      (await admin.listGroups()).filter((g) => g.startsWith(processorPrefix)).sort();
    const projector = targets.projectorGroup ?? projectorGroupOf(targets.prefix);
    const wanted: { stage: GroupProbe['stage']; group: string; topics: string[] }[] = [
      ...processors.map((group) => ({
        stage: 'processor' as const,
        group,
        topics: [topics.touchpoints.name, topics.lifecycleIdentity.name],
      })),
      {
        stage: 'projector',
        group: projector,
        topics: [topics.touchpoints.name, topics.stageChanges.name, topics.customerSnapshots.name],
      },
    ];
    const described = new Map(
      (await admin.describeGroups(wanted.map((w) => w.group))).map((d) => [d.group, d]),
    );
    return await Promise.all(
      wanted.map(async (w) => {
        const d = described.get(w.group);
        return {
          stage: w.stage,
          group: w.group,
          state: d?.state ?? 'Dead',
          members: d?.members ?? 0,
          lag: await admin.partitionLag(w.group, w.topics),
        };
      }),
    );
  } finally {
    await admin.close();
  }
}

export async function probePipeline(targets: PipelineTargets): Promise<PipelineReport> {
  const timeoutMs = targets.timeoutMs ?? 3000;
  const [collector, groups, processorCounts] = await Promise.all([
    targets.collectorUrl === undefined ? undefined : probeCollector(targets.collectorUrl, timeoutMs),
    probeGroups(targets).catch((err: unknown) => ({ kafkaError: errorMessage(err) })),
    targets.processorMetricsUrl === undefined
      ? undefined
      : probeProcessorCounts(targets.processorMetricsUrl, timeoutMs),
  ]);
  const status = evaluatePipeline({
    ...(collector ? { collector } : {}),
    ...('kafkaError' in groups ? { groups: [], kafkaError: groups.kafkaError } : { groups }),
    processorsExpected: processorGroupOf(targets.prefix, ''),
    ...(targets.maxLag !== undefined ? { maxLag: targets.maxLag } : {}),
  });
  return { ...status, ...(processorCounts ? { processorCounts } : {}) };
}
