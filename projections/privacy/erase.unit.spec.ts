import { CicloError } from '../../infra/errors';
import { eraseFromClickHouse } from './erase';
import type { MutationRow } from './statements';

/**
 * A ClickHouse that answers the erasure's queries from a few tables' row counts. A mutation takes a table's
 * rows away after `mutationPolls` polls of system.mutations (never, when it fails), and a writer may put
 * rows back meanwhile.
 */
function fakeClickHouse(options: {
  rows: Record<string, number>;
  failReason?: string;
  mutationPolls?: number;
  hasFailReason?: boolean;
  writesDuringErase?: Record<string, number>;
}) {
  const rows = { ...options.rows };
  const commands: string[] = [];
  const pending: (MutationRow & { polls: number; apply: () => void })[] = [];
  const tableOf = (sql: string): string =>
    /FROM \w+\.(\w+)|ALTER TABLE \w+\.(\w+)/.exec(sql)!.slice(1).find(Boolean)!;
  const client = {
    command(sql: string): Promise<void> {
      commands.push(sql);
      const table = tableOf(sql);
      pending.push({
        table,
        mutation_id: `mutation_${commands.length}.txt`,
        command: sql,
        parts_to_do: 1,
        ...(options.failReason ? { latest_fail_reason: options.failReason } : {}),
        polls: 0,
        apply: () => {
          if (!sql.includes(' UPDATE ')) rows[table] = 0;
          for (const [t, n] of Object.entries(options.writesDuringErase ?? {})) rows[t] = n;
        },
      });
      return Promise.resolve();
    },
    query<T>(sql: string): Promise<T[]> {
      let answer: unknown[];
      if (sql.startsWith('SELECT name, engine, engine_full FROM system.tables'))
        answer = [
          { name: 'touchpoints', engine: 'ReplacingMergeTree' },
          { name: 'customer_clv', engine: 'ReplacingMergeTree' },
          { name: 'customers', engine: 'View' },
        ];
      else if (sql.includes("table = 'mutations'"))
        answer = [
          { name: 'mutation_id' },
          ...(options.hasFailReason ? [{ name: 'latest_fail_reason' }] : []),
        ];
      else if (sql.startsWith('SELECT table, name, type FROM system.columns'))
        answer = [
          { table: 'touchpoints', name: 'customer_id', type: 'String' },
          { table: 'touchpoints', name: 'anonymous_id', type: 'String' },
          { table: 'customer_clv', name: 'customer_id', type: 'String' },
          { table: 'customers', name: 'customer_id', type: 'String' },
        ];
      else if (sql.startsWith('SELECT count() AS n'))
        answer = [{ n: sql.includes('refereeId') ? '0' : String(rows[tableOf(sql)] ?? 0) }];
      else if (sql.includes('FROM system.mutations')) {
        for (const m of pending)
          if (!options.failReason && ++m.polls >= (options.mutationPolls ?? 1)) {
            m.apply();
            pending.splice(pending.indexOf(m), 1);
          }
        answer = pending.map(({ polls: _p, apply: _a, ...m }) => m);
      } else throw new Error(`unexpected query: ${sql}`);
      return Promise.resolve(answer as T[]);
    },
  };
  return { client, commands, rows };
}

async function failureOf(promise: Promise<unknown>): Promise<CicloError> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(outcome instanceof CicloError)) throw new Error(`expected a CicloError, got ${String(outcome)}`);
  return outcome;
}

describe('eraseFromClickHouse against a fake ClickHouse', () => {
  it('deletes where the person has rows, waits for the mutations, and counts what went', async () => {
    const ch = fakeClickHouse({ rows: { touchpoints: 5, customer_clv: 0 }, mutationPolls: 3 });
    expect(await eraseFromClickHouse(ch.client, 'ciclo', ['c1', 'a1', 'c1', ''], { pollMs: 1 })).toEqual({
      deleted: { customer_clv: 0, touchpoints: 5 },
      scrubbed: {},
      mutations: 1,
    });
    expect(ch.commands).toEqual([
      "ALTER TABLE ciclo.touchpoints DELETE WHERE customer_id IN ('a1', 'c1') OR anonymous_id IN ('a1', 'c1')",
    ]);
    expect(await eraseFromClickHouse(ch.client, 'ciclo', ['c1', 'a1'], { pollMs: 1 })).toEqual({
      deleted: { customer_clv: 0, touchpoints: 0 },
      scrubbed: {},
      mutations: 0,
    });
    expect(ch.commands).toHaveLength(1);
  });

  it('issues nothing for no ids', async () => {
    const ch = fakeClickHouse({ rows: { touchpoints: 5 } });
    expect((await eraseFromClickHouse(ch.client, 'ciclo', [])).mutations).toBe(0);
    expect(ch.commands).toEqual([]);
  });

  it('fails at the deadline naming the mutation and, where the server says it, why it fails', async () => {
    const ch = fakeClickHouse({
      rows: { touchpoints: 2 },
      hasFailReason: true,
      failReason: 'Code: 241. Memory limit',
    });
    const err = await failureOf(
      eraseFromClickHouse(ch.client, 'ciclo', ['c1'], { timeoutMs: 20, pollMs: 5 }),
    );
    expect([err.code, err.retriable]).toEqual(['TIMEOUT', true]);
    expect(err.message).toContain(
      'touchpoints mutation_1.txt (1 parts to do; latest failure: Code: 241. Memory limit)',
    );
  });

  it('fails when rows of the person were written while it erased', async () => {
    const ch = fakeClickHouse({ rows: { touchpoints: 2 }, writesDuringErase: { touchpoints: 1 } });
    const err = await failureOf(eraseFromClickHouse(ch.client, 'ciclo', ['c1'], { pollMs: 1 }));
    expect([err.code, err.retriable]).toEqual(['DATA_CONFLICT', true]);
    expect(err.message).toContain('touchpoints: 1 rows');
  });
});
