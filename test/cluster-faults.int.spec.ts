/**
 * Issue 23's fault tests, on the real test cluster (three KRaft brokers, two ClickHouse 18.16 replicas with
 * ZooKeeper; test/support/cluster.ts), under load: the collector takes paced traffic while two processor
 * instances and the projector run. The standard is Kafka's own exactly-once system tests: output equals
 * input, none missing, none twice.
 *
 * - SIGKILL of the broker leading most of the run's partitions, restarted after 30 s;
 * - SIGKILL of the broker coordinating most of the processors' transactions, restarted after 30 s;
 * - a rolling restart of the three brokers, one by one;
 * - SIGKILL of a ClickHouse replica for 60 s: reports answer from the other.
 *
 * Each checks: every touchpoint that got a 202 is on the topic; the stage-change topic equals the truth
 * (`ciclo lifecycle replay --partitions 1` of what is on the topic, sorted by event time); ClickHouse holds
 * every touchpoint and stage change once, on each replica. Each prints and files its figures (sent, accepted,
 * on Kafka, in ClickHouse, stage changes expected and found, time from the fault to processing again) in
 * .ciclo/test-cluster/fault-report.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runCiclo } from './support/cli';
import {
  CLUSTER_HOME,
  leadersOf,
  startTestCluster,
  transactionCoordinators,
  underReplicatedPartitions,
  type TestCluster,
} from './support/cluster';
import {
  clickhouseCounts,
  stageChangeDifferences,
  clusterJourneys,
  dropRun,
  outcomeOnKafka,
  projected,
  sendPaced,
  startClusterPipeline,
  watchCommits,
  type ClusterPipeline,
  type LoadReport,
} from './support/cluster-pipeline';
import { eventually } from './support/services';

/**
 * The late touchpoints the run's processors report at the end: the last `ingest outcomes` line of each log
 * (totals over the partitions each held then).
 */
async function lateCountedIn(logDir: string): Promise<number> {
  const { readdir, readFile } = await import('node:fs/promises');
  let late = 0;
  for (const name of (await readdir(logDir)).filter((n) => n.startsWith('processor-'))) {
    const lines = (await readFile(path.join(logDir, name), 'utf8'))
      .split('\n')
      .filter((line) => line.includes('"ingest outcomes since start"'));
    late += Number(/"late":(\d+)/.exec(lines[lines.length - 1] ?? '')?.[1] ?? 0);
  }
  return late;
}

const BROKER_DOWN_MS = 30_000;
const REPLICA_DOWN_MS = 60_000;
/** About 7,500 touchpoints at 100 a second: the load spans the fault and the recovery. */
const CUSTOMERS = 1400;
const PER_SECOND = 100;
/**
 * Every 25th batch is sent twice (a sender retrying a call whose answer it stopped waiting for): about 300
 * copies a run, which the pipeline must drop, whatever the fault does meanwhile.
 */
const RESEND_EVERY = 25;
const REPORT_FILE = path.join(CLUSTER_HOME, 'fault-report.json');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface FaultFigures {
  readonly fault: string;
  readonly namespace: string;
  readonly sent: number;
  readonly accepted: number;
  readonly collectorRetries: number;
  /** Touchpoints the sender sent again after their 202. */
  readonly resent: number;
  readonly onKafka: number;
  readonly duplicatesOnKafka: number;
  readonly inClickHouse: { touchpoints: number; stageChanges: number; perReplica: Record<string, number[]> };
  readonly stageChangesExpected: number;
  readonly stageChangesFound: number;
  /** Identity records left to commit when every touchpoint was (the stage changes waited for them). */
  readonly identityLagWhenTouchpointsDrained: number;
  /** Changes to the right stage credited to another rule or time (once from copies of touchpoints, docs/clusters.md). */
  readonly stageChangesAttributedOtherwise: string[];
  /** Touchpoints the processors counted late (their `ingest outcomes` logs). */
  readonly lateCounted: number;
  readonly secondsFromFaultToProcessing?: number;
  readonly notes: string[];
}

function file(figures: FaultFigures): void {
  const all = fs.existsSync(REPORT_FILE)
    ? (JSON.parse(fs.readFileSync(REPORT_FILE, 'utf8')) as Record<string, FaultFigures>)
    : {};
  all[figures.fault] = figures;
  fs.writeFileSync(REPORT_FILE, `${JSON.stringify(all, null, 2)}\n`);
  process.stderr.write(`[cluster-faults] ${JSON.stringify(figures)}\n`);
}

describe('ciclo on a three-broker Kafka and a replicated ClickHouse, members killed under load', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  }, 300_000);

  /**
   * Runs the pipeline under load, applies `fault` once a fifth of the load is in, and checks the outcome.
   * `fault` returns when the fault began (for the time to processing again) and notes.
   */
  async function underLoad(
    tag: string,
    seed: number,
    fault: (pipeline: ClusterPipeline) => Promise<{ at?: number; notes: string[] }>,
  ): Promise<FaultFigures> {
    const pipeline = await startClusterPipeline(cluster, tag);
    let passed = false;
    const commits = watchCommits(
      cluster.config.endpoints.kafka.brokers,
      pipeline.processorGroup,
      pipeline.topics.touchpoints.name,
    );
    try {
      const events = clusterJourneys(seed, CUSTOMERS);
      const load = sendPaced(pipeline.collectorUrl, events, PER_SECOND, { resendEvery: RESEND_EVERY });
      await eventually(
        () => Promise.resolve(load.progress() >= 0.2 ? true : undefined),
        120_000,
        'a fifth of the load sent',
      );
      const { at, notes } = await fault(pipeline);
      const sentLoad: LoadReport = await load.done;
      const outcome = await outcomeOnKafka(cluster, pipeline, sentLoad);
      await projected(cluster, pipeline);
      const touchpoints = await clickhouseCounts(cluster, pipeline, 'touchpoints');
      const stageChanges = await clickhouseCounts(cluster, pipeline, 'stage_changes');
      await commits.stop();
      const resumed = at === undefined ? undefined : commits.resumedAfter(at);
      const differences = stageChangeDifferences(outcome.stageChangesExpected, outcome.stageChangesFound);
      for (const p of pipeline.processors)
        if (p.exitCode !== null || p.signalCode !== null)
          notes.push(`a processor exited (${p.exitCode ?? p.signalCode}): logs in ${pipeline.logDir}`);
      const figures: FaultFigures = {
        fault: tag,
        namespace: pipeline.ns,
        sent: sentLoad.sent,
        accepted: sentLoad.accepted,
        collectorRetries: sentLoad.retries,
        resent: sentLoad.resent,
        onKafka: outcome.touchpointsOnKafka,
        duplicatesOnKafka: outcome.duplicateTouchpointsOnKafka,
        inClickHouse: {
          touchpoints: touchpoints.distinct,
          stageChanges: stageChanges.distinct,
          perReplica: { touchpoints: touchpoints.perReplica, stage_changes: stageChanges.perReplica },
        },
        stageChangesExpected: outcome.stageChangesExpected.length,
        stageChangesFound: outcome.stageChangesFound.length,
        identityLagWhenTouchpointsDrained: outcome.identityLagWhenTouchpointsDrained,
        stageChangesAttributedOtherwise: differences.attribution,
        lateCounted: await lateCountedIn(pipeline.logDir),
        ...(resumed !== undefined && at !== undefined
          ? { secondsFromFaultToProcessing: (resumed - at) / 1000 }
          : {}),
        notes,
      };
      file(figures);

      expect(sentLoad.accepted).toBe(events.length);
      expect(outcome.acceptedMissingOnKafka).toEqual([]);
      expect(outcome.touchpointsOnKafka).toBe(events.length);
      // The copies the sender made are on the topic, with any a 503 and retry made.
      expect(sentLoad.resent).toBeGreaterThan(200);
      expect(outcome.duplicateTouchpointsOnKafka).toBeGreaterThanOrEqual(sentLoad.resent);
      // None missing, none twice, none extra, every one to the stage the truth has.
      expect(differences.structural).toEqual([]);
      expect(outcome.stageChangesFound.length).toBe(outcome.stageChangesExpected.length);
      // And with the truth's credit: a copy of a touchpoint (a sender's retry after a 503) once credited a
      // first change to first-touch where the truth has identity-merge (docs/clusters.md).
      expect(differences.attribution).toEqual([]);
      expect(touchpoints).toEqual({
        distinct: events.length,
        rows: events.length,
        perReplica: [events.length, events.length],
      });
      const changes = outcome.stageChangesExpected.length;
      expect(stageChanges).toEqual({ distinct: changes, rows: changes, perReplica: [changes, changes] });
      for (const p of pipeline.processors) expect(p.exitCode ?? p.signalCode).toBeNull();
      passed = true;
      return figures;
    } finally {
      await commits.stop();
      await pipeline.stop();
      // A failed run keeps its topics and database for diagnosis (its namespace is in the report file).
      if (passed) await dropRun(cluster, pipeline).catch(() => undefined);
    }
  }

  /** The broker leading most partitions of the run's topics. */
  async function busiestLeader(pipeline: ClusterPipeline): Promise<number> {
    const leaders = await leadersOf(
      cluster.config.endpoints.kafka.brokers,
      Object.values(pipeline.topics).map((t) => t.name),
    );
    return [...leaders.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  }

  async function killFor(nodeId: number, ms: number): Promise<{ at: number; notes: string[] }> {
    const name = `kafka-${nodeId}`;
    const at = Date.now();
    await cluster.kill(name);
    await sleep(ms);
    const back = await cluster.restart(name);
    return {
      at,
      notes: [`SIGKILL ${name}; it was healthy again ${((back - at) / 1000).toFixed(1)} s later`],
    };
  }

  it('loses nothing and duplicates nothing when the broker leading most partitions is SIGKILLed for 30 s', async () => {
    await underLoad('leader-kill', 231, async (pipeline) =>
      killFor(await busiestLeader(pipeline), BROKER_DOWN_MS),
    );
  }, 600_000);

  it("loses nothing and duplicates nothing when the processors' transaction coordinator is SIGKILLed for 30 s", async () => {
    await underLoad('coordinator-kill', 232, async (pipeline) => {
      const ids = Array.from(
        { length: pipeline.topics.touchpoints.partitions },
        (_, p) => `${pipeline.processorGroup}-${pipeline.topics.touchpoints.name}-${p}`,
      );
      const coordinators = await transactionCoordinators(cluster.config.endpoints.kafka.brokers, ids);
      const count = new Map<number, number>();
      for (const node of coordinators.values()) count.set(node, (count.get(node) ?? 0) + 1);
      const [node, n] = [...count.entries()].sort((a, b) => b[1] - a[1])[0]!;
      const result = await killFor(node, BROKER_DOWN_MS);
      return {
        at: result.at,
        notes: [`kafka-${node} coordinated ${n} of ${ids.length} transactional ids`, ...result.notes],
      };
    });
  }, 600_000);

  it('loses nothing and no processor stops through a rolling restart of the three brokers', async () => {
    await underLoad('rolling-restart', 233, async () => {
      const notes: string[] = [];
      const brokers = cluster.config.endpoints.kafka.brokers;
      const at = Date.now();
      for (const name of ['kafka-1', 'kafka-2', 'kafka-3']) {
        const stopped = Date.now();
        // A restart, not a crash: SIGTERM, and Kafka's controlled shutdown moves leadership first.
        await cluster.stopGracefully(name);
        await cluster.restart(name);
        // The next broker goes only once every partition is in sync again, as an operator would wait.
        await eventually(
          async () => ((await underReplicatedPartitions(brokers)) === 0 ? true : undefined),
          120_000,
          `every partition in sync after ${name} restarted`,
        );
        notes.push(`${name} restarted and in sync in ${((Date.now() - stopped) / 1000).toFixed(1)} s`);
      }
      return { at, notes };
    });
  }, 600_000);

  it('answers reports from the other replica while one is SIGKILLed for 60 s; both hold every row once after', async () => {
    await underLoad('clickhouse-replica-kill', 234, async (pipeline) => {
      const at = Date.now();
      await cluster.kill('clickhouse-1');
      const notes = ['SIGKILL clickhouse-1'];
      await sleep(5_000);
      const env = { ...cluster.env, CLICKHOUSE_DATABASE: pipeline.ns };
      const report = await runCiclo(['report', 'cohorts'], { env, inheritEnv: false });
      notes.push(`ciclo report cohorts while clickhouse-1 was down: exit ${report.code}`);
      expect(report.stderr).toBe('');
      expect(report.code).toBe(0);
      await sleep(REPLICA_DOWN_MS - (Date.now() - at));
      const back = await cluster.restart('clickhouse-1');
      notes.push(`clickhouse-1 healthy again ${((back - at) / 1000).toFixed(1)} s after the kill`);
      return { at, notes };
    });
  }, 600_000);
});
