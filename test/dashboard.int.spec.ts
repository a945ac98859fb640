/**
 * The dashboard against the real ClickHouse, in real headless Chromium: clear "no data yet" states on empty
 * tables, an error banner when ClickHouse is away, and the seeded values in every chart. Seeds are rows from
 * the projector's own row mappers; the showcase database (for docs/dashboard.png, rewritten only with
 * CICLO_UPDATE_SCREENSHOT=1) runs simulated journeys through the lifecycle fold and the CLV refit.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connectClickHouseServer } from '../infra/clickhouse/engine';
import { createLogger } from '../infra/log';
import { toSnapshot } from '../processors/domain/customer';
import { loadModel } from '../processors/runtime/model-file';
import { replay } from '../processors/domain/replay';
import { DEFAULT_START, simulate } from '../producers/simulate/simulate';
import { refitFromClickHouse } from '../projections/clv/refit';
import { dashboardAccess, type DashboardAccess } from '../projections/dashboard/config';
import { startDashboard, type RunningDashboard } from '../projections/dashboard/server';
import type { PipelineTargets } from '../infra/pipeline-health/probe';
import { migrate } from '../projections/migrations/migrate';
import { toCustomerStateRow, toStageChangeRow, toTouchpointRow } from '../projections/projector/rows';
import { CUSTOMER_SNAPSHOT_EXAMPLE, STAGE_CHANGED_EXAMPLE, TOUCHPOINT_EXAMPLES } from '../schemas/examples';
import type { Touchpoint } from '../schemas/touchpoint';
import { ensureChromium } from './support/chromium';
import { testConfig, uniqueName } from './support/services';

const SCREENSHOT = path.resolve(__dirname, '..', 'docs', 'dashboard.png');
const base = testConfig().endpoints;
const log = createLogger({ level: 'silent' });
const day = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d, 12);

/**
 * Seven customers with known answers. Cohort 2024-01 (c1-c4): 3 of 4 buy in February (75.0%), 1 in March
 * (25.0%). Cohort 2024-02 (c5, c6): 1 of 2 buys in March (50.0%). Cohort 2024-03: c7. NPS: January 10, 9, 3
 * (+33.3), February 10, 7 (+50). Spend: newsletter 100.00 for c1-c4 (CAC 25.00), paid-search 300.00 for
 * c5-c7 (CAC 100.00).
 */
function knownRows(): Record<string, Record<string, unknown>[]> {
  const now = Date.UTC(2026, 0, 1);
  const purchases: [string, number][] = [
    ['c1', day(2024, 1, 5)],
    ['c2', day(2024, 1, 9)],
    ['c3', day(2024, 1, 20)],
    ['c4', day(2024, 1, 28)],
    ['c1', day(2024, 2, 3)],
    ['c2', day(2024, 2, 14)],
    ['c3', day(2024, 2, 20)],
    ['c5', day(2024, 2, 6)],
    ['c6', day(2024, 2, 11)],
    ['c1', day(2024, 3, 2)],
    ['c5', day(2024, 3, 12)],
    ['c7', day(2024, 3, 15)],
  ];
  const touchpoints: Touchpoint[] = purchases.map(([customerId, occurredAt], i) => ({
    ...TOUCHPOINT_EXAMPLES.PurchaseCompleted,
    eventId: `p${i}`,
    customerId,
    occurredAt,
    receivedAt: occurredAt,
    payload: { ...TOUCHPOINT_EXAMPLES.PurchaseCompleted.payload, orderId: `o${i}`, amountMinor: 2500 },
  }));
  const answers: [string, number, number][] = [
    ['c1', day(2024, 1, 10), 10],
    ['c2', day(2024, 1, 11), 9],
    ['c3', day(2024, 1, 12), 3],
    ['c1', day(2024, 2, 10), 10],
    ['c5', day(2024, 2, 11), 7],
  ];
  answers.forEach(([customerId, occurredAt, nps], i) =>
    touchpoints.push({
      ...TOUCHPOINT_EXAMPLES.SurveyAnswered,
      eventId: `s${i}`,
      customerId,
      occurredAt,
      payload: { surveyId: 'nps', nps },
    }),
  );
  (
    [
      ['newsletter', 10_000],
      ['paid-search', 30_000],
    ] as const
  ).forEach(([channel, amountMinor], i) =>
    touchpoints.push({
      ...TOUCHPOINT_EXAMPLES.MarketingSpendRecorded,
      eventId: `m${i}`,
      occurredAt: day(2024, 1, 31),
      payload: {
        channel,
        amountMinor,
        currency: 'EUR',
        periodStart: Date.UTC(2024, 0, 1),
        periodEnd: Date.UTC(2024, 0, 31),
      },
    }),
  );

  const customers = [
    ['c1', 'loyalty', 'newsletter'],
    ['c2', 'retention', 'newsletter'],
    ['c3', 'retention', 'newsletter'],
    ['c4', 'at_risk', 'newsletter'],
    ['c5', 'conversion', 'paid-search'],
    ['c6', 'lapsed', 'paid-search'],
    ['c7', 'conversion', 'paid-search'],
  ] as const;
  const state = customers.map(([customerId, stage, acquisitionChannel]) =>
    toCustomerStateRow(
      {
        ...CUSTOMER_SNAPSHOT_EXAMPLE,
        customerId,
        stage,
        acquisitionChannel,
        firstPurchaseAt: purchases.find(([c]) => c === customerId)![1],
        lastSeenAt: day(2024, 3, 31),
        orders: 2,
        netRevenueMinor: 5000,
      },
      now,
    ),
  );
  const flows: [string, string | undefined, string][] = [
    ...customers.map(([c]): [string, undefined, string] => [c, undefined, 'conversion']),
    ['c1', 'conversion', 'retention'],
    ['c2', 'conversion', 'retention'],
    ['c3', 'conversion', 'retention'],
    ['c1', 'retention', 'loyalty'],
    ['c4', 'conversion', 'at_risk'],
    ['c6', 'conversion', 'lapsed'],
  ];
  const stageChanges = flows.map(([customerId, fromStage, toStage], i) =>
    toStageChangeRow(
      {
        ...STAGE_CHANGED_EXAMPLE,
        eventId: `sc${i}`,
        customerId,
        fromStage,
        toStage,
        sequence: i + 1,
        occurredAt: day(2024, 3, 1),
      },
      now,
    ),
  );
  const predicted = [1500, 2500, 4000, 8000, 12000, 20000, 35000];
  const alive = [0.9, 0.8, 0.7, 0.6, 0.5, 0.2, 0.1];
  const clv = customers.map(([customerId], i) => ({
    customer_id: customerId,
    fitted_at: '2024-04-01 00:00:00',
    frequency: 1,
    recency_weeks: 4,
    age_weeks: 10,
    expected_purchases_12m: 2,
    probability_alive: alive[i],
    expected_spend_minor: 2500,
    predicted_clv_minor: predicted[i],
    historic_clv_minor: 5000,
  }));
  return {
    touchpoints: touchpoints.map((tp) => toTouchpointRow(tp, now)),
    customer_state: state,
    stage_changes: stageChanges,
    customer_clv: clv,
  };
}

/** A port nothing listens on: bound, noted, released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

describe('dashboard', () => {
  const run = uniqueName('it-dash').replace(/-/g, '_');
  const database = `it_${run}`;
  const showcase = `it_${run}_showcase`;
  const clickhouse = connectClickHouseServer({ url: base.clickhouse.url });
  let browser: Browser;
  const running: RunningDashboard[] = [];

  const start = async (
    options: {
      database?: string;
      clickhouseUrl?: string;
      access?: DashboardAccess;
      pipeline?: PipelineTargets;
    } = {},
  ): Promise<RunningDashboard> => {
    const dashboard = await startDashboard({
      clickhouse: { url: options.clickhouseUrl ?? base.clickhouse.url },
      database: options.database ?? database,
      modelId: 'five-stage',
      port: 0,
      host: '127.0.0.1',
      log,
      ...(options.access ? { access: options.access } : {}),
      ...(options.pipeline ? { pipeline: options.pipeline } : {}),
    });
    running.push(dashboard);
    return dashboard;
  };

  /** Opens the page, waits until every panel settled, and collects what the console complained about. */
  const open = async (url: string): Promise<{ page: Page; errors: string[] }> => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    return { page, errors };
  };
  const stateOf = (page: Page, panel: string): Promise<string | null> =>
    page.getAttribute(`#panel-${panel}`, 'data-state');
  const text = async (page: Page, selector: string): Promise<string> =>
    ((await page.textContent(selector)) ?? '').replace(/\s+/g, ' ').trim();
  const texts = (page: Page, selector: string): Promise<string[]> => page.locator(selector).allTextContents();
  const attributes = async (page: Page, selector: string, name: string): Promise<(string | null)[]> =>
    Promise.all((await page.locator(selector).all()).map((l) => l.getAttribute(name)));

  beforeAll(async () => {
    await migrate(clickhouse, database);
    browser = await chromium.launch({ executablePath: await ensureChromium() });
  });

  afterAll(async () => {
    for (const d of running) await d.stop();
    await browser?.close();
    await clickhouse.command(`DROP DATABASE IF EXISTS ${database}`);
    await clickhouse.command(`DROP DATABASE IF EXISTS ${showcase}`);
    await clickhouse.close();
  });

  it('shows a clear "no data yet" state in every panel while the tables are empty', async () => {
    const { url } = await start();
    const { page, errors } = await open(url);
    for (const panel of ['cohorts', 'funnel', 'flows', 'clv', 'clvAccuracy', 'cac', 'nps', 'churn'])
      expect([panel, await stateOf(page, panel)]).toEqual([panel, 'empty']);
    expect(await text(page, '#panel-clvAccuracy')).toContain('no purchases yet');
    expect(await text(page, '#panel-cohorts')).toContain('No data yet');
    expect(await text(page, '#panel-clv')).toContain('ciclo clv refit');
    expect(await page.isVisible('#banner')).toBe(false);
    expect(await text(page, '#status')).toContain(`database ${database}`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows the pipeline's stages from Kafka: here none runs, so the processor and projector are down", async () => {
    const prefix = uniqueName('it-dash-pipeline');
    const { url } = await start({ pipeline: { brokers: base.kafka.brokers, prefix } });
    const { page, errors } = await open(url);
    expect(await stateOf(page, 'pipeline')).toBe('ready');
    expect(await text(page, '#panel-pipeline .stats')).toContain('a stage is down');
    expect(await attributes(page, '#panel-pipeline tr[data-stage]', 'data-stage')).toEqual([
      'collector',
      'processor',
      'projector',
    ]);
    expect(await attributes(page, '#panel-pipeline tr[data-stage]', 'data-health')).toEqual([
      'unknown',
      'down',
      'down',
    ]);
    expect(await text(page, '#panel-pipeline tr[data-stage="processor"]')).toContain(`${prefix}-processor-*`);
    expect(await text(page, '#panel-pipeline')).toContain('CICLO_PROCESSOR_METRICS_URL');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows an error banner with a hint when ClickHouse cannot be reached', async () => {
    const { url } = await start({ clickhouseUrl: `http://127.0.0.1:${await closedPort()}` });
    const { page } = await open(url);
    expect(await page.isVisible('#banner')).toBe(true);
    expect(await page.getAttribute('#banner', 'data-code')).toBe('CLICKHOUSE_UNREACHABLE');
    expect(await text(page, '#banner')).toContain('ClickHouse is unreachable');
    expect(await text(page, '#banner')).toContain('ciclo stack');
    expect(await stateOf(page, 'cohorts')).toBe('error');
    expect(await text(page, '#status')).toContain('ClickHouse unavailable');
    await page.close();
  });

  it('tells to run the migrations when the database has no ciclo tables', async () => {
    const { url } = await start({ database: `${database}_missing` });
    const { page } = await open(url);
    expect(await page.getAttribute('#banner', 'data-code')).toBe('NOT_MIGRATED');
    expect(await text(page, '#banner')).toContain('run ciclo migrate');
    expect(await stateOf(page, 'cac')).toBe('error');
    await page.close();
  });

  it('draws the seeded cohorts, stages, flows, CLV histogram, CAC table, NPS and churn', async () => {
    for (const [table, rows] of Object.entries(knownRows()))
      await clickhouse.insert(`${database}.${table}`, rows);
    const { url } = await start();
    const { page, errors } = await open(url);
    for (const panel of ['cohorts', 'funnel', 'flows', 'clv', 'clvAccuracy', 'cac', 'nps', 'churn'])
      expect([panel, await stateOf(page, panel)]).toEqual([panel, 'ready']);

    // Cohort heatmap: one row per cohort, a cell per month since acquisition up to the last month of data.
    const cells = (cohort: string): Promise<string[]> => texts(page, `tr[data-cohort="${cohort}"] td.cell`);
    expect(await cells('2024-01')).toEqual(['100.0%', '75.0%', '25.0%']);
    expect(await cells('2024-02')).toEqual(['100.0%', '50.0%', '']);
    expect(await cells('2024-03')).toEqual(['100.0%', '', '']);
    expect(await text(page, 'tr[data-cohort="2024-01"] td.size')).toBe('4');
    expect(await page.getAttribute('tr[data-cohort="2024-01"] td[data-month="1"]', 'title')).toContain(
      '3 of 4 customers',
    );

    // Funnel in the five-stage model's order, and the flows between stages.
    const stageIds = await attributes(page, '#panel-funnel g[data-stage]', 'data-stage');
    const stageTexts = await texts(page, '#panel-funnel g[data-stage]');
    expect(stageIds).toEqual([
      'reach',
      'acquisition',
      'conversion',
      'retention',
      'loyalty',
      'at_risk',
      'lapsed',
      'reactivated',
    ]);
    expect(Object.fromEntries(stageIds.map((id, i) => [id, stageTexts[i]]))).toMatchObject({
      conversion: 'Conversion2 (29%)',
      retention: 'Retention2 (29%)',
      loyalty: 'Loyalty / Advocacy1 (14%)',
      reach: 'Reach0 (0%)',
    });
    const flow = (from: string, to: string): Promise<string[]> =>
      texts(page, `tr[data-from="${from}"][data-to="${to}"] td`);
    expect(await flow('(new)', 'conversion')).toEqual(['New → Conversion', '7']);
    expect(await flow('conversion', 'retention')).toEqual(['Conversion → Retention', '3']);
    expect(await text(page, '[data-kpi="customers"] .value')).toBe('7');

    // CLV: summary and a histogram whose bars hold all seven customers.
    // The forecast check holds out the seeded purchases' last half and names the command that repeats it.
    expect(await text(page, '#panel-clvAccuracy .stats')).toMatch(/Predicted.*Actual.*Error/);
    expect(await text(page, '#panel-clvAccuracy')).toContain('ciclo clv validate --calibration-end ');
    expect(await texts(page, '#panel-clvAccuracy tr[data-frequency] td:first-child')).toContain('0');
    expect(await text(page, '#panel-clv .stats')).toContain('118.57Mean');
    expect(await text(page, '#panel-clv .stats')).toContain('2 (29%)Likely gone');
    const bins = await texts(page, '#panel-clv g[data-bin] title');
    expect(bins.length).toBeGreaterThan(1);
    expect(bins.reduce((n, t) => n + Number(/^(\d+) customers/.exec(t)?.[1] ?? NaN), 0)).toBe(7);

    // CAC, ROI and CLV:CAC by channel: newsletter 100.00 / 4 customers, paid-search 300.00 / 3.
    const channel = (name: string): Promise<string[]> => texts(page, `tr[data-channel="${name}"] td`);
    expect(await channel('newsletter')).toEqual([
      'newsletter',
      '100.00',
      '4',
      '25.00',
      '200.00',
      '+100%',
      '1.6×',
      expect.any(String),
    ]);
    expect(await channel('paid-search')).toEqual([
      'paid-search',
      '300.00',
      '3',
      '100.00',
      '150.00',
      '-50%',
      '2.2×',
      expect.any(String),
    ]);
    expect(await text(page, '[data-kpi="cac"] .value')).toBe('57.14');

    // NPS by month, and churn (the month after the last purchase is not shown as 100% churn).
    const labels = async (panel: string): Promise<Record<string, string>> => {
      const months = await attributes(page, `#panel-${panel} g[data-month]`, 'data-month');
      const values = await texts(page, `#panel-${panel} g[data-month] text:first-of-type`);
      return Object.fromEntries(months.map((m, i): [string, string] => [m ?? '', values[i] ?? '']));
    };
    expect(await labels('nps')).toEqual({ '2024-01': '+33.3', '2024-02': '+50' });
    expect(await text(page, '[data-kpi="nps"] .value')).toBe('+50');
    expect(await labels('churn')).toEqual({ '2024-02': '25%', '2024-03': '60%' });
    expect(await text(page, '[data-kpi="churn"] .value')).toBe('60.0%');

    // A filter reaches the API as a validated date: cohorts from February on.
    await page.fill('#f-from', '2024-02-01');
    await page.click('#filters button[type="submit"]');
    await page.waitForSelector('body[data-ready="true"]');
    expect(await attributes(page, 'tr[data-cohort]', 'data-cohort')).toEqual(['2024-02', '2024-03']);
    expect(page.url()).toContain('from=2024-02-01');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('with a token: the page asks for it, takes it from #token=, and only then are customers named', async () => {
    // Runs after the seeded test: c6 and c7 are likely gone (P(alive) < 0.5).
    const token = `tok_${run}_0123456789`;
    const { url } = await start({ access: dashboardAccess({ token }) });
    const refused = await fetch(`${url}api/clv`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('c6');
    const clv = (await (
      await fetch(`${url}api/clv`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { topAtRisk: { customerId: string }[] };
    expect(clv.topAtRisk.map((c) => c.customerId).sort()).toEqual(['c6', 'c7']);

    const asked = await open(url);
    expect(await asked.page.getAttribute('#banner', 'data-code')).toBe('TOKEN_REQUIRED');
    await asked.page.fill('#token', token);
    await asked.page.click('#token-form button[type="submit"]');
    await asked.page.waitForSelector('body[data-ready="true"]');
    expect(await stateOf(asked.page, 'cohorts')).toBe('ready');
    expect(await asked.page.isVisible('#banner')).toBe(false);
    await asked.page.close();

    const { page, errors } = await open(`${url}#token=${token}`);
    for (const panel of ['cohorts', 'funnel', 'flows', 'clv', 'clvAccuracy', 'cac', 'nps', 'churn'])
      expect([panel, await stateOf(page, panel)]).toEqual([panel, 'ready']);
    expect(page.url()).not.toContain(token); // taken out of the address bar
    expect(errors).toEqual([]);
    await page.close();
  });

  it('without a token names no customer', async () => {
    const { url } = await start();
    const clv = (await (await fetch(`${url}api/clv`)).json()) as Record<string, unknown>;
    expect(clv.customers).toBe(7);
    expect(clv).not.toHaveProperty('topAtRisk');
  });

  it('renders a simulated year through the lifecycle fold and the CLV refit without errors', async () => {
    const model = loadModel('five-stage');
    const events = simulate({ customers: 2500, seed: 11, days: 365, start: DEFAULT_START });
    const result = replay(events, model, { partitions: 3, gracePeriodMs: 0 });
    const now = Date.now();
    await migrate(clickhouse, showcase);
    const snapshots = result.partitions
      .flatMap((p) => [...p.customers.values()])
      .map((s) => toSnapshot(s, model));
    const batches: [string, Record<string, unknown>[]][] = [
      ['touchpoints', events.map((tp) => toTouchpointRow(tp, now))],
      ['stage_changes', result.stageChanges.map((sc) => toStageChangeRow(sc, now))],
      ['customer_state', snapshots.map((s) => toCustomerStateRow(s, now))],
    ];
    for (const [table, rows] of batches)
      for (let i = 0; i < rows.length; i += 20_000)
        await clickhouse.insert(`${showcase}.${table}`, rows.slice(i, i + 20_000));
    await refitFromClickHouse(clickhouse, showcase, now);

    const { url } = await start({ database: showcase });
    const { page, errors } = await open(url);
    for (const panel of ['cohorts', 'funnel', 'flows', 'clv', 'clvAccuracy', 'cac', 'nps', 'churn'])
      expect([panel, await stateOf(page, panel)]).toEqual([panel, 'ready']);
    expect(errors).toEqual([]);
    if (process.env.CICLO_UPDATE_SCREENSHOT === '1') {
      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }
    await page.close();
  });
});
