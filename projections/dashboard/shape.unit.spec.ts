import { blendedCac, clvHistogram, cohortHeatmap, funnelView, monthIndex, observedChurn } from './shape';

const cell = (cohort: string, monthsSince: number, customers: number, activeCustomers: number) => ({
  cohort,
  monthsSince,
  customers,
  activeCustomers,
  revenue: 0,
});

describe('cohortHeatmap', () => {
  it('is empty without cells', () => {
    expect(cohortHeatmap([])).toEqual({ months: 0, rows: [] });
  });

  it('builds the retention triangle: zero inside the observed period, null past it', () => {
    const heatmap = cohortHeatmap([
      cell('2024-01', 0, 4, 4),
      cell('2024-01', 2, 4, 1), // nobody bought in month 1
      cell('2024-02', 0, 2, 2),
      cell('2024-02', 1, 2, 1),
    ]);
    expect(heatmap.months).toBe(3);
    expect(heatmap.rows.map((r) => r.cohort)).toEqual(['2024-01', '2024-02']);
    expect(heatmap.rows[0]!.customers).toBe(4);
    expect(heatmap.rows[0]!.cells).toEqual([
      { monthsSince: 0, activeCustomers: 4, share: 1 },
      { monthsSince: 1, activeCustomers: 0, share: 0 },
      { monthsSince: 2, activeCustomers: 1, share: 0.25 },
    ]);
    expect(heatmap.rows[1]!.cells).toEqual([
      { monthsSince: 0, activeCustomers: 2, share: 1 },
      { monthsSince: 1, activeCustomers: 1, share: 0.5 },
      null,
    ]);
  });

  it('keeps a cohort without activity past month 0 across a year boundary, and caps the columns', () => {
    const heatmap = cohortHeatmap([cell('2023-12', 0, 3, 3), cell('2024-02', 0, 1, 1)], 2);
    expect(monthIndex('2024-02') - monthIndex('2023-12')).toBe(2);
    expect(heatmap.months).toBe(2);
    expect(heatmap.rows[0]!.cells.map((c) => c?.share ?? null)).toEqual([1, 0]);
    expect(heatmap.rows[1]!.cells.map((c) => c?.share ?? null)).toEqual([1, null]);
  });
});

describe('clvHistogram', () => {
  it('is empty without buckets', () => {
    expect(clvHistogram([])).toEqual([]);
  });

  it('fills the empty buckets between the ones the report returns, with labels', () => {
    const bins = clvHistogram([
      { from: 0, to: 50, customers: 3 },
      { from: 100, to: 150, customers: 1 },
      { from: 500, to: Infinity, customers: 2 },
    ]);
    expect(bins).toHaveLength(11);
    expect(bins[0]).toEqual({ from: 0, to: 50, label: '0–50', customers: 3 });
    expect(bins[1]).toEqual({ from: 50, to: 100, label: '50–100', customers: 0 });
    expect(bins[2]!.customers).toBe(1);
    expect(bins[10]).toEqual({ from: 500, to: null, label: '500+', customers: 2 });
    expect(bins.reduce((n, b) => n + b.customers, 0)).toBe(6);
  });

  it('derives the width from the open bucket alone', () => {
    expect(clvHistogram([{ from: 1000, to: Infinity, customers: 1 }])[0]).toEqual({
      from: 0,
      to: 100,
      label: '0–100',
      customers: 0,
    });
  });

  it('labels cent-wide buckets (every prediction zero) without rounding them away', () => {
    expect(clvHistogram([{ from: 0, to: 0.01, customers: 5 }])).toEqual([
      { from: 0, to: 0.01, label: '0–0.01', customers: 5 },
    ]);
  });
});

describe('funnelView', () => {
  const model = [
    { id: 'reach', name: 'Reach', kind: 'prospect' },
    { id: 'conversion', name: 'Conversion', kind: 'active' },
    { id: 'lapsed', name: 'Lapsed', kind: 'lapsed' },
  ];

  it('orders stages as the model lists them, with zero stages, names, kinds and shares', () => {
    const view = funnelView(
      {
        stages: [
          { stage: 'lapsed', customers: 1 },
          { stage: 'reach', customers: 3 },
          { stage: 'retired', customers: 4 },
        ],
        flows: [
          { from: 'reach', to: 'conversion', changes: 2 },
          { from: '(new)', to: 'reach', changes: 8 },
        ],
      },
      model,
    );
    expect(view.customers).toBe(8);
    expect(view.stages).toEqual([
      { stage: 'reach', name: 'Reach', kind: 'prospect', customers: 3, share: 0.375 },
      { stage: 'conversion', name: 'Conversion', kind: 'active', customers: 0, share: 0 },
      { stage: 'lapsed', name: 'Lapsed', kind: 'lapsed', customers: 1, share: 0.125 },
      { stage: 'retired', name: 'retired', kind: 'unknown', customers: 4, share: 0.5 },
    ]);
    expect(view.flows).toEqual([
      { from: '(new)', to: 'reach', fromName: 'New', toName: 'Reach', changes: 8 },
      { from: 'reach', to: 'conversion', fromName: 'Reach', toName: 'Conversion', changes: 2 },
    ]);
  });

  it('has no stages when no customer is in the model yet', () => {
    expect(funnelView({ stages: [], flows: [] }, model)).toEqual({ customers: 0, stages: [], flows: [] });
  });
});

describe('observedChurn', () => {
  const row = (month: string, activeLastMonth: number, retained: number) => ({
    month,
    activeLastMonth,
    retained,
    churnRate: activeLastMonth ? (activeLastMonth - retained) / activeLastMonth : 0,
    lapsed: 0,
  });
  const rows = [row('2024-02', 4, 3), row('2024-03', 5, 2), row('2024-04', 3, 0)];

  it('drops the month after the last purchase, where nobody can have bought again yet', () => {
    expect(observedChurn(rows).map((r) => r.month)).toEqual(['2024-02', '2024-03']);
    expect(observedChurn([])).toEqual([]);
  });

  it('applies an exclusive upper bound', () => {
    expect(observedChurn(rows, '2024-03-01').map((r) => r.month)).toEqual(['2024-02']);
    expect(observedChurn(rows, '2024-03-02').map((r) => r.month)).toEqual(['2024-02', '2024-03']);
  });
});

describe('blendedCac', () => {
  const row = (channel: string, spend: number, customers: number) => ({
    channel,
    spend,
    customers,
    cac: null,
    revenue: 0,
    roi: null,
    clvToCac: null,
    paybackMonths: null,
  });

  it('divides paid spend by the customers of paid channels only', () => {
    expect(blendedCac([row('newsletter', 100, 4), row('paid-search', 300, 3), row('direct', 0, 50)])).toEqual(
      {
        spend: 400,
        customers: 7,
        cac: 57.14,
      },
    );
  });

  it('has no CAC without spend', () => {
    expect(blendedCac([row('direct', 0, 5)])).toEqual({ spend: 0, customers: 0, cac: null });
  });
});
