/**
 * `ciclo demo [--customers N] [--seed S] [--serve]`: the main job. On a fresh machine it brings the stack
 * up, creates topics and schemas, migrates ClickHouse, starts the collector, the lifecycle processor and the
 * projector, sends simulated customer journeys through the collector as a website and backend would,
 * waits until ClickHouse has caught up, refits CLV, and prints a summary. `--serve` then keeps everything
 * running with the dashboard. Same seed, same data: a second run adds nothing new (every event id repeats).
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { connectClickHouseServer } from '../../infra/clickhouse/engine';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { createLogger } from '../../infra/log';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { createStack } from '../../infra/stack/stack';
import { loadModel } from '../../processors/runtime/model-file';
import { processorTopicsOf, startLifecycleProcessor } from '../../processors/runtime/start';
import { sendToCollector } from '../../producers/collector/client';
import { loadCollectorConfig } from '../../producers/collector/config';
import { startCollector } from '../../producers/server/start';
import { collectedAs, toSegmentCall } from '../../producers/simulate/segment-calls';
import { collectorEventId } from '../../schemas/event-id';
import { loadWebhooksConfig } from '../../producers/webhooks/config';
import { loadDashboardAccess } from '../../projections/dashboard/config';
import { startDashboard } from '../../projections/dashboard/server';
import { DEFAULT_START, simulate } from '../../producers/simulate/simulate';
import { clvPredictionTime, refitFromClickHouse } from '../../projections/clv/refit';
import { migrateConfigured } from '../../projections/migrations/migrate';
import { startProjector } from '../../projections/projector/projector';
import { cacReport, funnelReport } from '../../projections/reports/analytics';
import { cohortReport, formatCohortTable } from '../../projections/reports/cohorts';
import { identifier, stringLiteral } from '../../projections/sql';
import { provisionTopicsAndSchemas } from '../../infra/registry/provision';
import { publishClvPredictions } from './clv';
import { earlierDemoConflict } from './demo-data';
import { formatTable } from '../table';
import { drawProgress } from '../progress';
import { formatStatus } from './stack';
import { parsePort } from '../serve';
import { namespacedTopics, TOPICS } from '../../schemas/topics';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The source of the demo's write key: the collector scopes the simulator's ids by it. */
const DEMO_SOURCE = 'demo';

export function registerDemoCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('demo')
    .description('run the whole pipeline on simulated customers and print what it found')
    .option('--customers <n>', 'simulated visitors', '3000')
    .option('--seed <s>', 'simulation seed', '42')
    .option('--serve', 'keep the pipeline and the dashboard running after the summary, until Ctrl-C')
    .option(
      '--namespace <ns>',
      'topics <ns>.*, consumer groups <ns>-* and ClickHouse database <ns> (default: ciclo)',
    )
    .option('--dashboard-port <port>', 'with --serve: the dashboard port', '8070')
    .option('--collector-port <port>', 'with --serve: the collector port (else a free one)', '8090')
    .action(
      async (opts: {
        customers: string;
        seed: string;
        serve?: boolean;
        dashboardPort: string;
        collectorPort: string;
        namespace?: string;
      }) => {
        // Every option is checked before anything starts.
        const collectorPort = parsePort(opts.collectorPort, '--collector-port');
        const dashboardPort = parsePort(opts.dashboardPort, '--dashboard-port');
        const customers = Number(opts.customers);
        if (!Number.isInteger(customers) || customers <= 0)
          throw new CicloError(
            'CONFIG_INVALID',
            `--customers must be a positive whole number, got "${opts.customers}"`,
          );
        const seed = Number(opts.seed) | 0;
        const config = getConfig();
        // The dashboard of --serve follows CICLO_DASHBOARD_TOKEN (and its ids rule) as `ciclo dashboard` does.
        const dashboardAccess = loadDashboardAccess(process.env);
        // --namespace: topics <ns>.*, consumer groups <ns>-*, ClickHouse database <ns>: a demo of its own.
        const namespace = opts.namespace;
        if (namespace !== undefined && !/^[a-z][a-z0-9_]{0,39}$/.test(namespace))
          throw new CicloError(
            'CONFIG_INVALID',
            `--namespace must be a lowercase letter then up to 39 letters, digits or _, got "${namespace}"`,
          );
        const topics = namespace ? namespacedTopics(namespace) : TOPICS;
        const endpoints = namespace
          ? { ...config.endpoints, clickhouse: { ...config.endpoints.clickhouse, database: namespace } }
          : config.endpoints;
        const group = (name: string): string | undefined => (namespace ? `${namespace}-${name}` : undefined);
        // The demo prints its own progress; components log only errors unless CICLO_LOG_LEVEL asks for
        // more (Kafka's retried, transient broker errors are warnings: noise in a summary).
        const log = createLogger({
          level: config.logLevel === 'info' ? 'error' : config.logLevel,
          name: 'demo',
        });
        const started = Date.now();

        say('1/6 stack');
        const reports = await createStack(config).up(say);
        say(formatStatus(reports));
        const unhealthy = reports.filter((r) => !r.health.healthy);
        if (unhealthy.length > 0)
          throw new CicloError(
            'SERVICE_UNHEALTHY',
            `not healthy: ${unhealthy.map((r) => `${r.name} (${r.health.detail ?? 'no answer'})`).join(', ')}`,
          );

        say('2/6 topics, schemas and migrations');
        const admin = await connectTopicAdmin(endpoints.kafka.brokers);
        try {
          const provisioned = await provisionTopicsAndSchemas(
            admin,
            createAvroRegistry(endpoints.schemaRegistry.url),
            Object.values(topics),
          );
          say(
            `    topics: ${provisioned.createdTopics.length} created, ${provisioned.existingTopics.length} existing; ${provisioned.subjects.length} schemas registered`,
          );
        } finally {
          await admin.close();
        }
        const migrated = await migrateConfigured(endpoints.clickhouse);
        const clickhouse = connectClickHouseServer({ url: endpoints.clickhouse.url });
        say(
          `    migrations: ${migrated.applied.length} applied, ${migrated.alreadyApplied.length} already applied`,
        );

        // Poisson purchase gaps: the CLV fit's P(alive) then has churn to find (SimulationOptions).
        const events = simulate({
          customers,
          seed,
          days: 365,
          start: DEFAULT_START,
          purchaseGaps: 'poisson',
        });
        // Through the collector, each event is stored under the collector's id for it (`seg:demo:sim-...`,
        // schemas/event-id.ts). Earlier ciclo versions stored the simulator's own (`sim-...`): those are
        // another run's, which the check below reports.
        const collected = events.map((tp) => collectedAs(tp, DEMO_SOURCE));
        const collectedPrefix = collectorEventId(DEMO_SOURCE, `sim-${seed}-`);
        const db = identifier(endpoints.clickhouse.database);
        const stored = await clickhouse.query<{ event_id: string; type: string; ms: string }>(
          `SELECT DISTINCT event_id, type, occurred_at_ms AS ms FROM ${db}.touchpoints
           WHERE event_id LIKE ${stringLiteral(`sim-${seed}-%`)}
              OR event_id LIKE ${stringLiteral(`${collectedPrefix}%`)}`,
        );
        const conflict = earlierDemoConflict(
          stored.map((r) => ({ eventId: r.event_id, type: r.type, occurredAtMs: Number(r.ms) })),
          collected,
        );
        if (conflict !== undefined) {
          await clickhouse.close();
          throw new CicloError(
            'DATA_CONFLICT',
            `database ${endpoints.clickhouse.database} holds an earlier demo's touchpoints for seed ${seed} that ` +
              `this version simulates otherwise (${conflict}): the processor would take this run's events for ` +
              `repeats of those and fold a mix of both. For a fresh demo, run with --namespace <new name> or ` +
              `another --seed`,
          );
        }

        say('3/6 collector, lifecycle processor (five-stage) and ClickHouse projector');
        // A write key for this run only: the demo is the collector's one client.
        const writeKey = `wk_demo_${randomBytes(12).toString('hex')}`;
        const collector = await startCollector({
          endpoints,
          // The demo is this collector's one client, with a key of this run's: no rate limit.
          config: loadCollectorConfig({
            CICLO_WRITE_KEYS: `${DEMO_SOURCE}:${writeKey}`,
            CICLO_RATE_LIMIT: 'off',
          }),
          // The installation's secret, as `ciclo collect` loads it: email-derived ids are the installation's.
          webhooks: loadWebhooksConfig({}, loadInstallationSecret(config.home, config.pseudonymSecret)),
          log,
          port: opts.serve ? collectorPort : 0,
          host: '127.0.0.1',
          topic: topics.touchpoints.name,
        });
        say(`    collector at ${collector.url}`);
        const model = loadModel('five-stage');
        const processor = await startLifecycleProcessor({
          installation: config,
          endpoints,
          model,
          gracePeriodMs: 0,
          idleFlushMs: 1000,
          log,
          topics: processorTopicsOf(model.id, namespace),
          ...(group('processor-five-stage') ? { groupId: group('processor-five-stage') } : {}),
        });
        const projector = await startProjector({
          endpoints,
          log,
          secret: loadInstallationSecret(config.home, config.pseudonymSecret),
          topics: {
            touchpoints: topics.touchpoints.name,
            stageChanges: topics.stageChanges.name,
            customerSnapshots: topics.customerSnapshots.name,
            deadLetter: topics.projectorDeadLetter.name,
          },
          ...(group('projector') ? { groupId: group('projector') } : {}),
        });

        say(
          `4/6 simulating ${customers} visitors (seed ${seed}) and sending their touchpoints to the collector`,
        );
        const sent = await sendToCollector({ url: collector.url, writeKey }, events.map(toSegmentCall), {
          batchSize: 250,
          // One request at a time, as a tracker sends a visitor's events: with several in flight, requests
          // overtake each other, and the processor (grace 0) applies the overtaken events as late, so the
          // outcome would depend on timing instead of equalling `ciclo lifecycle replay` of the same events.
          concurrency: 1,
          onProgress: (done, total) => drawProgress('    sent', done, total),
        });
        say(`    ${sent.accepted} touchpoints accepted by the collector in ${sent.requests} requests`);

        say('5/6 waiting for the projections to catch up');
        // Until ClickHouse has `expected` of the touchpoints matching `where` and the stage changes have
        // stopped moving: the processor has folded them and the projector has written what it emitted.
        const waitForProjections = async (where: string, expected: number, label: string): Promise<void> => {
          const deadline = Date.now() + 300_000;
          let last = -1;
          for (;;) {
            const [row] = await clickhouse.query<{ tp: string; sc: string }>(
              `SELECT (SELECT count() FROM ${db}.touchpoints FINAL WHERE ${where}) AS tp,
                      (SELECT count() FROM ${db}.stage_changes FINAL WHERE model_id = 'five-stage') AS sc`,
            );
            const tp = Number(row?.tp ?? 0);
            const sc = Number(row?.sc ?? 0);
            drawProgress(`    ${label}`, Math.min(tp, expected), expected);
            if (tp >= expected && sc === last) return;
            last = tp >= expected ? sc : -1;
            if (Date.now() > deadline)
              throw new CicloError(
                'TIMEOUT',
                `projections did not catch up in 5 minutes (${tp} of ${expected} ${label})`,
              );
            await sleep(1500);
          }
        };
        await waitForProjections(
          `event_id LIKE ${stringLiteral(`${collectedPrefix}%`)}`,
          events.length,
          'projected',
        );
        const refit = await refitFromClickHouse(clickhouse, endpoints.clickhouse.database, Date.now());
        const scored = await publishClvPredictions(
          endpoints,
          loadInstallationSecret(config.home, config.pseudonymSecret),
          refit,
          topics.touchpoints.name,
        );
        say(
          `    CLV refit on ${refit.customers.length} customers; ${scored} P(alive) scores sent to the processor`,
        );
        // The scores can move customers (low P(alive) -> at risk): the summary waits for them too, so a
        // second run, whose scores repeat these ids, prints the same.
        await waitForProjections(
          `type = 'ClvPredicted' AND occurred_at_ms = ${clvPredictionTime(refit.asOfDay)}`,
          scored,
          'scores folded',
        );

        say('6/6 summary\n');
        const funnel = await funnelReport(clickhouse, endpoints.clickhouse.database, model.id);
        say('Customers per stage (five-stage model):');
        say(formatTable(funnel.stages));
        const cohorts = (
          await cohortReport(clickhouse, endpoints.clickhouse.database, {
            from: new Date(DEFAULT_START).toISOString().slice(0, 10),
          })
        ).filter((c) => c.monthsSince <= 6);
        say('\nCohort retention (share of each acquisition cohort buying in month n):');
        say(
          formatCohortTable(cohorts.filter((c) => cohorts.findIndex((x) => x.cohort === c.cohort) < 7 * 7)),
        );
        say('\nCAC, ROI and CLV:CAC by acquisition channel:');
        say(formatTable((await cacReport(clickhouse, endpoints.clickhouse.database, model.id)) as never));
        const atRisk = await clickhouse.query<Record<string, unknown>>(
          // Why each is at risk: silent for longer than their own buying rhythm. P(alive) is the BG/NBD
          // view of the same history: the chance they have not dropped out, given how often they bought.
          `SELECT s.customer_id AS customer, s.orders AS orders, s.net_revenue_minor / 100 AS revenue,
                  toDate(s.last_purchase_at) AS last_purchase, round(s.purchase_cadence_days) AS usual_gap_days,
                  toDate(s.stage_entered_at) AS at_risk_since, round(c.probability_alive, 2) AS p_alive
         FROM (SELECT * FROM ${db}.customer_state FINAL WHERE model_id = 'five-stage' AND stage = 'at_risk' AND merged_into = '') AS s
         ANY LEFT JOIN (SELECT customer_id, probability_alive FROM ${db}.customer_clv FINAL) AS c USING customer_id
         ORDER BY s.net_revenue_minor DESC, customer LIMIT 5`,
        );
        say('\nTop at-risk customers (by revenue; silent for longer than their usual gap between orders):');
        say(formatTable(atRisk));
        say(
          `\ndone in ${((Date.now() - started) / 1000).toFixed(0)}s. Explore: npx ciclo report <cohorts|clv|funnel|cac|churn|nps>`,
        );

        if (opts.serve) {
          const dashboard = await startDashboard({
            clickhouse,
            database: endpoints.clickhouse.database,
            modelId: model.id,
            port: dashboardPort,
            host: '127.0.0.1',
            log,
            access: dashboardAccess,
            // The pipeline panel watches this run's stages: its namespace, its collector.
            pipeline: {
              brokers: endpoints.kafka.brokers,
              prefix: namespace ?? 'ciclo',
              collectorUrl: collector.url,
            },
          });
          say(`\ndashboard: ${dashboard.url}`);
          say(`collector: ${collector.url} (write key ${writeKey}); pipeline running, Ctrl-C to stop`);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          say('stopping: dashboard, collector, processor, projector');
          await dashboard.stop();
        }
        await collector.stop();
        await processor.stop();
        await projector.stop();
        await clickhouse.close();
        if (opts.serve) say('stopped');
      },
    );
}
