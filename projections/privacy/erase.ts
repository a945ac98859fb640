/**
 * Erases persons from ClickHouse, for `ciclo forget`. Consumes a list of ids (findPersonIds); deletes every
 * row of every MergeTree table of ciclo's database that names one of them in a person column, and cuts
 * references to them out of other persons' rows (statements.ts says which columns and fields), with
 * mutations that it waits for until system.mutations says they are done. Tables are found in
 * system.tables, so a table a later migration adds is covered once its person column is in
 * PERSON_ID_COLUMNS. Idempotent: a table with no such row gets no mutation, so a second call deletes nothing
 * and returns at once.
 *
 * Guarantee: when it returns, no row of those tables names the ids (it counts again to be sure). Rows a
 * writer inserts while it runs are not covered by the mutations: call it once nothing writes the person's
 * rows any more (the projector has applied the person's forget marker), or call it again.
 *
 * On a cluster (migrations/cluster.ts) the tables erased are the Replicated ones under the Distributed
 * names, on the replica `client` reaches: it first fetches every part the replication log holds (SYSTEM SYNC
 * REPLICA), so it counts rows written through any replica, and its mutations go into the replication log,
 * which every replica applies, one that is down when it comes back. The guarantee above is this replica's;
 * the others hold the person's rows until they have applied the mutations.
 */
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { CicloError } from '../../infra/errors';
import {
  columnsQuery,
  describeMutations,
  erasureSteps,
  MUTATION_COLUMNS_QUERY,
  mutationsQuery,
  personTables,
  syncReplicaSql,
  tablesQuery,
  type ColumnRow,
  type ErasureStep,
  type MutationRow,
  type TableRow,
} from './statements';

export interface Erasure {
  /**
   * Rows deleted per table that holds persons' rows (0 where the person had none), counted before the delete.
   * Past ID_CHUNK ids a row naming ids of two chunks counts twice.
   */
  readonly deleted: Readonly<Record<string, number>>;
  /** Rows of other persons whose payload named the person (a referral's referee), per table; the field is cut out. */
  readonly scrubbed: Readonly<Record<string, number>>;
  /** Mutations issued (0 on a second call). */
  readonly mutations: number;
}

export interface EraseOptions {
  /** How long to wait for the mutations; they keep running on the server past it. */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
}

export async function eraseFromClickHouse(
  client: Pick<ClickHouseEngine, 'query' | 'command'>,
  database: string,
  ids: readonly string[],
  options: EraseOptions = {},
): Promise<Erasure> {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const pollMs = options.pollMs ?? 100;
  const tables = personTables(
    await client.query<TableRow>(tablesQuery(database)),
    await client.query<ColumnRow>(columnsQuery(database)),
    database,
  );
  const deleted: Record<string, number> = Object.fromEntries(tables.map((t) => [t.table, 0]));
  const scrubbed: Record<string, number> = {};
  const unique = [...new Set(ids)].filter((id) => id !== '');
  if (unique.length === 0) return { deleted, scrubbed, mutations: 0 };

  for (const t of tables) if (t.replicated) await client.command(syncReplicaSql(database, t.table));
  const steps = erasureSteps(database, tables, unique);
  const mutated = new Set<string>();
  let mutations = 0;
  for (const step of steps) {
    const rows = await count(client, step);
    if (rows === 0) continue;
    if (step.kind === 'delete') deleted[step.table] = (deleted[step.table] ?? 0) + rows;
    else scrubbed[step.table] = (scrubbed[step.table] ?? 0) + rows;
    await client.command(step.mutationSql);
    mutated.add(step.table);
    mutations++;
  }
  if (mutations === 0) return { deleted, scrubbed, mutations };
  await awaitMutations(client, database, [...mutated], timeoutMs, pollMs);

  const left: string[] = [];
  for (const step of steps) {
    const rows = await count(client, step);
    if (rows > 0) left.push(`${step.table}: ${rows} ${step.kind === 'delete' ? 'rows' : 'references'}`);
  }
  if (left.length > 0)
    throw new CicloError(
      'DATA_CONFLICT',
      `rows of the person were written to ${database} while it was being erased (${left.join(', ')}): ` +
        'stop what writes them (the projector applies the forget marker) and erase again',
      { retriable: true },
    );
  return { deleted, scrubbed, mutations };
}

async function count(client: Pick<ClickHouseEngine, 'query'>, step: ErasureStep): Promise<number> {
  const [row] = await client.query<{ n: number | string }>(step.countSql);
  return Number(row?.n ?? 0);
}

/** Polls system.mutations until no mutation of the tables is left to do, or fails at the deadline. */
async function awaitMutations(
  client: Pick<ClickHouseEngine, 'query'>,
  database: string,
  tables: readonly string[],
  timeoutMs: number,
  pollMs: number,
): Promise<void> {
  const columns = await client.query<{ name: string }>(MUTATION_COLUMNS_QUERY);
  const sql = mutationsQuery(
    database,
    tables,
    columns.some((c) => c.name === 'latest_fail_reason'),
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await client.query<MutationRow>(sql);
    if (pending.length === 0) return;
    if (Date.now() >= deadline)
      throw new CicloError(
        'TIMEOUT',
        `the deletes in ${database} were not done in ${timeoutMs} ms (they go on in the background; ` +
          `erase again to wait for them): ${describeMutations(pending)}`,
        { retriable: true },
      );
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
