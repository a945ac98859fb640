import { CicloError } from '../../infra/errors';
import {
  chunksOf,
  describeMutations,
  erasureSteps,
  linkedTo,
  linkRowsQuery,
  mergeRowsQuery,
  mutationsQuery,
  personTables,
  syncReplicaSql,
  withoutField,
  type ColumnRow,
  type LinkRow,
  type TableRow,
} from './statements';

/** The tables and columns of ciclo's database as system.tables and system.columns list them (001-006). */
const TABLES: TableRow[] = [
  { name: 'touchpoints', engine: 'ReplacingMergeTree' },
  { name: 'stage_changes', engine: 'ReplacingMergeTree' },
  { name: 'customer_state', engine: 'ReplacingMergeTree' },
  { name: 'customer_clv', engine: 'ReplacingMergeTree' },
  { name: 'currency_rates', engine: 'ReplacingMergeTree' },
  { name: 'schema_migrations', engine: 'MergeTree' },
  { name: 'customers', engine: 'View' },
  { name: 'identity_map', engine: 'View' },
];
const col = (table: string, name: string, type = 'String'): ColumnRow => ({ table, name, type });
const COLUMNS: ColumnRow[] = [
  col('touchpoints', 'event_id'),
  col('touchpoints', 'type'),
  col('touchpoints', 'customer_id'),
  col('touchpoints', 'anonymous_id'),
  col('touchpoints', 'payload'),
  col('stage_changes', 'customer_id'),
  col('stage_changes', 'triggering_event_ids', 'Array(String)'),
  col('customer_state', 'customer_id'),
  col('customer_state', 'merged_into'),
  col('customer_clv', 'customer_id'),
  col('currency_rates', 'currency'),
  col('schema_migrations', 'name'),
  col('customers', 'customer_id'),
  col('identity_map', 'customer_id'),
];

describe('personTables: which tables hold persons, from system.tables and system.columns', () => {
  it('takes the MergeTree tables with a person column, skips views and tables without one', () => {
    const tables = personTables(TABLES, COLUMNS, 'ciclo');
    expect(tables.map((t) => [t.table, t.idColumns.map((c) => c.name), t.references.length])).toEqual([
      ['customer_clv', ['customer_id'], 0],
      ['customer_state', ['customer_id', 'merged_into'], 0],
      ['stage_changes', ['customer_id'], 0],
      ['touchpoints', ['customer_id', 'anonymous_id'], 1],
    ]);
  });

  it('covers a table a later migration adds, with arrays and wrapped strings', () => {
    const [t] = personTables(
      [{ name: 'referrals', engine: 'SummingMergeTree' }],
      [
        col('referrals', 'customer_id', 'LowCardinality(String)'),
        col('referrals', 'anonymous_id', 'Array(String)'),
      ],
      'ciclo',
    );
    expect(t).toEqual({
      table: 'referrals',
      idColumns: [
        { name: 'customer_id', isArray: false },
        { name: 'anonymous_id', isArray: true },
      ],
      references: [],
      replicated: false,
    });
  });

  it.each([
    [{ name: 'visits', engine: 'Log' }, [col('visits', 'customer_id')], /engine Log has no mutations/],
    [{ name: '.inner.mv', engine: 'MergeTree' }, [col('.inner.mv', 'customer_id')], /not a plain identifier/],
    [{ name: 'scores', engine: 'MergeTree' }, [col('scores', 'customer_id', 'UInt64')], /of type UInt64/],
  ])('refuses a table holding persons it cannot erase (%#)', (table, columns, message) => {
    expect(() => personTables([table], columns, 'ciclo')).toThrow(CicloError);
    expect(() => personTables([table], columns, 'ciclo')).toThrow(message);
  });

  it('ignores a table of another engine that names no person', () => {
    expect(personTables([{ name: 'rates', engine: 'Memory' }], [col('rates', 'currency')], 'ciclo')).toEqual(
      [],
    );
  });
});

describe('personTables on a cluster: Distributed tables over Replicated ones (migrations/cluster.ts)', () => {
  const distributed = (name: string, over = `${name}_local`, db = 'ciclo'): TableRow => ({
    name,
    engine: 'Distributed',
    engine_full: `Distributed(ciclo_cluster, ${db}, ${over})`,
  });
  const local = (name: string, engine = 'ReplicatedReplacingMergeTree'): TableRow => ({
    name: `${name}_local`,
    engine,
    engine_full: `${engine}('/clickhouse/tables/{shard}/ciclo/${name}_local', '{replica}') ORDER BY x`,
  });
  /** What system.tables and system.columns list of ciclo's database migrated ON CLUSTER. */
  const CLUSTER_TABLES: TableRow[] = [
    ...TABLES.filter((t) => t.engine.endsWith('MergeTree')).flatMap((t) => [
      distributed(t.name),
      local(t.name, `Replicated${t.engine}`),
    ]),
    ...TABLES.filter((t) => t.engine === 'View'),
  ];
  const CLUSTER_COLUMNS: ColumnRow[] = COLUMNS.flatMap((c) =>
    CLUSTER_TABLES.some((t) => t.name === `${c.table}_local`)
      ? [c, { ...c, table: `${c.table}_local` }]
      : [c],
  );

  it('erases the Replicated tables, the Distributed ones over them are skipped', () => {
    const tables = personTables(CLUSTER_TABLES, CLUSTER_COLUMNS, 'ciclo');
    expect(
      tables.map((t) => [t.table, t.idColumns.map((c) => c.name), t.references.length, t.replicated]),
    ).toEqual([
      ['customer_clv_local', ['customer_id'], 0, true],
      ['customer_state_local', ['customer_id', 'merged_into'], 0, true],
      ['stage_changes_local', ['customer_id'], 0, true],
      ['touchpoints_local', ['customer_id', 'anonymous_id'], 1, true],
    ]);
    const steps = erasureSteps('ciclo', tables, ['c1']);
    expect(steps.map((s) => s.mutationSql.replace(/ WHERE .*/, ''))).toEqual([
      'ALTER TABLE ciclo.customer_clv_local DELETE',
      'ALTER TABLE ciclo.customer_state_local DELETE',
      'ALTER TABLE ciclo.stage_changes_local DELETE',
      'ALTER TABLE ciclo.touchpoints_local DELETE',
      expect.stringMatching(/^ALTER TABLE ciclo\.touchpoints_local UPDATE payload = /),
    ]);
    expect(syncReplicaSql('ciclo', 'touchpoints_local')).toBe('SYSTEM SYNC REPLICA ciclo.touchpoints_local');
  });

  it.each([
    ['another database', distributed('touchpoints', 'touchpoints_local', 'elsewhere')],
    ['a table not in the database', distributed('touchpoints', 'gone_local')],
    ['an engine it cannot read', { name: 'touchpoints', engine: 'Distributed', engine_full: '' }],
  ])('refuses a Distributed table with persons over %s', (_what, table) => {
    expect(() =>
      personTables([table, local('touchpoints')], [col('touchpoints', 'customer_id')], 'ciclo'),
    ).toThrow(/touchpoints holds persons' rows but is Distributed over a table outside ciclo/);
  });
});

describe('erasureSteps: the statements', () => {
  const tables = personTables(TABLES, COLUMNS, 'ciclo');

  it('deletes by every person column and cuts referrals out of other rows', () => {
    const steps = erasureSteps('ciclo', tables, ['c1', "o'b"]);
    expect(steps.map((s) => [s.table, s.kind])).toEqual([
      ['customer_clv', 'delete'],
      ['customer_state', 'delete'],
      ['stage_changes', 'delete'],
      ['touchpoints', 'delete'],
      ['touchpoints', 'scrub'],
    ]);
    expect(steps[1]!.mutationSql).toBe(
      "ALTER TABLE ciclo.customer_state DELETE WHERE customer_id IN ('c1', 'o\\'b') OR merged_into IN ('c1', 'o\\'b')",
    );
    expect(steps[1]!.countSql).toBe(
      "SELECT count() AS n FROM ciclo.customer_state WHERE customer_id IN ('c1', 'o\\'b') OR merged_into IN ('c1', 'o\\'b')",
    );
    expect(steps[4]!.mutationSql).toBe(
      'ALTER TABLE ciclo.touchpoints UPDATE payload = ' +
        String.raw`replaceRegexpAll(payload, ',"refereeId":"(?:[^"\\\\]|\\\\.)*"|"refereeId":"(?:[^"\\\\]|\\\\.)*",?', '')` +
        " WHERE type = 'ReferralMade' AND visitParamExtractString(payload, 'refereeId') IN ('c1', 'o\\'b')" +
        " AND NOT (customer_id IN ('c1', 'o\\'b') OR anonymous_id IN ('c1', 'o\\'b'))",
    );
  });

  it('matches array columns with hasAny', () => {
    const [t] = personTables(
      [{ name: 'x', engine: 'MergeTree' }],
      [col('x', 'customer_id', 'Array(String)')],
      'db',
    );
    expect(erasureSteps('db', [t!], ['a'])[0]!.mutationSql).toBe(
      "ALTER TABLE db.x DELETE WHERE hasAny(customer_id, ['a'])",
    );
  });

  it('cuts a long id list into statements below max_query_size', () => {
    const ids = Array.from({ length: 1200 }, (_, i) => `customer-${i}`.padEnd(64, 'x'));
    const steps = erasureSteps('ciclo', tables, ids);
    expect(steps.filter((s) => s.table === 'customer_clv')).toHaveLength(3);
    expect(Math.max(...steps.map((s) => s.mutationSql.length))).toBeLessThan(256 * 1024);
    expect(chunksOf([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('refuses a database name that is not an identifier', () => {
    expect(() => erasureSteps('ciclo; DROP TABLE x', tables, ['a'])).toThrow(CicloError);
  });
});

describe('withoutField: the JSON field cut out of a payload', () => {
  // The same regular expression in JavaScript (RE2 and JS agree on this syntax): what ClickHouse does to a payload.
  const cut = (json: string): string => {
    const sql = withoutField('payload', 'refereeId');
    const literal = /replaceRegexpAll\(payload, '(.*)', ''\)$/.exec(sql)![1]!;
    const pattern = literal.replace(/\\(.)/g, '$1');
    return json.replace(new RegExp(pattern, 'g'), '');
  };

  it.each([
    ['{"referralId":"r1","refereeId":"cust-a"}', '{"referralId":"r1"}'],
    ['{"refereeId":"cust-a","referralId":"r1"}', '{"referralId":"r1"}'],
    ['{"refereeId":"cust-a"}', '{}'],
    [JSON.stringify({ referralId: 'r1', refereeId: 'a"b\\c' }), '{"referralId":"r1"}'],
    [
      JSON.stringify({ referralId: 'x","refereeId":"y' }),
      JSON.stringify({ referralId: 'x","refereeId":"y' }),
    ],
  ])('%s', (json, expected) => {
    expect(cut(json)).toBe(expected);
    expect(JSON.parse(cut(json))).toEqual(expect.any(Object));
  });

  it('refuses a field name that is not plain', () => {
    expect(() => withoutField('payload', 'a"b')).toThrow(CicloError);
  });
});

describe('finding ids: the lookups and what their rows link', () => {
  const identified = (customer: string, anonymous: string, payload: object): LinkRow => ({
    type: 'Identified',
    customer_id: customer,
    anonymous_id: anonymous,
    payload: JSON.stringify(payload),
  });
  const aliased = (customer: string, previousId: string): LinkRow => ({
    type: 'Aliased',
    customer_id: customer,
    anonymous_id: '',
    payload: JSON.stringify({ previousId }),
  });

  it('queries links and merges of the ids, quoted', () => {
    expect(linkRowsQuery('ciclo', ["a'1"])).toBe(
      "SELECT type, customer_id, anonymous_id, payload FROM ciclo.touchpoints WHERE type IN ('Identified', 'Aliased') " +
        "AND (customer_id IN ('a\\'1') OR anonymous_id IN ('a\\'1') " +
        "OR (type = 'Aliased' AND visitParamExtractString(payload, 'previousId') IN ('a\\'1')))",
    );
    expect(mergeRowsQuery('ciclo', ['a'])).toBe(
      "SELECT DISTINCT customer_id, merged_into FROM ciclo.customer_state WHERE merged_into != '' AND (customer_id IN ('a') OR merged_into IN ('a'))",
    );
  });

  it('links as the processor does: identify with both ids, alias both ways, merges both ways', () => {
    const found = linkedTo(
      new Set(['c1', 'old', 'anon9']),
      [
        identified('c1', 'anon1', { email: 'Ana@Example.org', name: 'Ana', plan: 'pro' }),
        identified('c1', '', { name: 'Ana L' }),
        identified('c2', 'anon9', {}),
        identified('c3', 'anon3', { email: 'bob@example.org' }), // another person's, returned by no lookup of ours
        aliased('c1', 'prev1'),
        aliased('c4', 'old'),
        { type: 'Aliased', customer_id: 'c1', anonymous_id: '', payload: 'not json' },
      ],
      [
        { customer_id: 'anon2', merged_into: 'c1' },
        { customer_id: 'old', merged_into: 'c5' },
        { customer_id: 'x', merged_into: 'y' },
      ],
    );
    expect(found).toEqual({
      ids: ['c1', 'anon1', 'c2', 'anon9', 'c1', 'prev1', 'c4', 'old', 'anon2', 'c1', 'old', 'c5'],
      emails: ['Ana@Example.org'],
      names: ['Ana', 'Ana L'],
    });
  });
});

describe('mutations', () => {
  it('asks for latest_fail_reason only where the server has it (not 18.16)', () => {
    expect(mutationsQuery('ciclo', ['touchpoints'], false)).toBe(
      "SELECT table, mutation_id, command, parts_to_do FROM system.mutations WHERE database = 'ciclo' AND table IN ('touchpoints') AND is_done = 0",
    );
    expect(mutationsQuery('ciclo', ['a', 'b'], true)).toContain('parts_to_do, latest_fail_reason FROM');
  });

  it('describes pending mutations with why they failed', () => {
    expect(
      describeMutations([
        { table: 'touchpoints', mutation_id: 'mutation_3.txt', command: 'DELETE ...', parts_to_do: '2' },
        {
          table: 'customer_state',
          mutation_id: 'mutation_4.txt',
          command: 'DELETE ...',
          parts_to_do: 1,
          latest_fail_reason: 'Code: 241. Memory limit exceeded\nstack',
        },
      ]),
    ).toBe(
      'touchpoints mutation_3.txt (2 parts to do); customer_state mutation_4.txt (1 parts to do; latest failure: Code: 241. Memory limit exceeded)',
    );
  });
});
