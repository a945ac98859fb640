/**
 * Whether each stage of the pipeline is healthy, from what probe.ts saw: pure, so the rules are read and
 * tested here. The stages: the collector (its GET /health, when its URL is known), each lifecycle processor
 * (consumer group `<prefix>-processor-<model>`) and the projector (`<prefix>-projector`), by the group's
 * state, members and lag.
 *
 * - A group that is Stable with members is ok; one rebalancing is a warning (it passes in seconds); one
 *   with no member (Empty), or unknown to the broker (Dead), is down: nothing is consuming.
 * - Lag is reported, and makes a stage down only past `maxLag` records (a backlog being worked off is no
 *   failure by itself).
 * - Kafka unreachable: the processors and the projector are down (what they do cannot be seen).
 * - The collector is ok when /health answers 200, down when it answers anything else or nothing; unknown
 *   when no URL was given, which makes nothing unhealthy.
 * The pipeline is healthy when no stage is down.
 */
import type { PartitionLag } from '../kafka/lag';

export type StageKind = 'collector' | 'processor' | 'projector';
export type Health = 'ok' | 'warn' | 'down' | 'unknown';

/** What the collector's /health answered: its HTTP status, or why there was no answer. */
export type CollectorProbe =
  { readonly url: string; readonly status: number } | { readonly url: string; readonly error: string };

export interface GroupProbe {
  readonly stage: 'processor' | 'projector';
  readonly group: string;
  /** Kafka's group state; `Dead` for a group the broker does not know. */
  readonly state: string;
  readonly members: number;
  readonly lag: readonly PartitionLag[];
}

export interface StageReport {
  readonly stage: StageKind;
  /** The consumer group, or the collector's URL. */
  readonly name: string;
  readonly health: Health;
  readonly detail: string;
  readonly state?: string;
  readonly members?: number;
  /** Records not yet committed, over every partition of the stage's input topics. */
  readonly lag?: number;
}

export interface PipelineStatus {
  readonly healthy: boolean;
  readonly stages: readonly StageReport[];
  readonly lag: readonly PartitionLag[];
}

export interface PipelineProbes {
  /** Absent when no collector URL is known. */
  readonly collector?: CollectorProbe;
  readonly groups: readonly GroupProbe[];
  /** Processors expected whose group the broker does not know: their `<prefix>-processor-` pattern. */
  readonly processorsExpected: string;
  /** Why the groups could not be read: Kafka's error. */
  readonly kafkaError?: string;
  readonly maxLag?: number;
}

export function collectorStage(probe: CollectorProbe | undefined): StageReport {
  if (probe === undefined)
    return {
      stage: 'collector',
      name: '-',
      health: 'unknown',
      detail: 'not checked: no collector URL (--collector-url or CICLO_COLLECTOR_URL)',
    };
  if ('error' in probe)
    return { stage: 'collector', name: probe.url, health: 'down', detail: `unreachable: ${probe.error}` };
  if (probe.status === 200)
    return { stage: 'collector', name: probe.url, health: 'ok', detail: 'taking events' };
  return {
    stage: 'collector',
    name: probe.url,
    health: 'down',
    detail:
      probe.status === 503
        ? 'degraded: it cannot reach Kafka (HTTP 503)'
        : `GET /health answered HTTP ${probe.status}`,
  };
}

export function groupStage(probe: GroupProbe, maxLag?: number): StageReport {
  const lag = probe.lag.reduce((sum, p) => sum + p.lag, 0);
  const base = { stage: probe.stage, name: probe.group, state: probe.state, members: probe.members, lag };
  if (probe.state === 'Dead')
    return {
      ...base,
      health: 'down',
      detail: 'no such consumer group: it never ran, or its offsets expired',
    };
  if (probe.members === 0 || probe.state === 'Empty')
    return { ...base, health: 'down', detail: 'no member: not running' };
  if (maxLag !== undefined && lag > maxLag)
    return { ...base, health: 'down', detail: `lag ${lag} is over --max-lag ${maxLag}` };
  if (probe.state !== 'Stable') return { ...base, health: 'warn', detail: `rebalancing (${probe.state})` };
  return { ...base, health: 'ok', detail: lag === 0 ? 'caught up' : 'consuming' };
}

export function evaluatePipeline(probes: PipelineProbes): PipelineStatus {
  const stages: StageReport[] = [collectorStage(probes.collector)];
  if (probes.kafkaError !== undefined) {
    const detail = `Kafka unreachable: ${probes.kafkaError}`;
    stages.push(
      { stage: 'processor', name: `${probes.processorsExpected}*`, health: 'down', detail },
      { stage: 'projector', name: '-', health: 'down', detail },
    );
    return { healthy: false, stages, lag: [] };
  }
  const processors = probes.groups.filter((g) => g.stage === 'processor');
  if (processors.length === 0)
    stages.push({
      stage: 'processor',
      name: `${probes.processorsExpected}*`,
      health: 'down',
      detail: 'no processor consumer group: none has run',
    });
  for (const g of processors) stages.push(groupStage(g, probes.maxLag));
  for (const g of probes.groups.filter((p) => p.stage === 'projector'))
    stages.push(groupStage(g, probes.maxLag));
  return {
    healthy: stages.every((s) => s.health !== 'down'),
    stages,
    lag: probes.groups.flatMap((g) => g.lag),
  };
}
