/**
 * The SQL of erasing a person from ClickHouse, and how its answers are read: pure, no I/O. Values reach SQL
 * only through ../sql.ts. Every statement runs on Debian's ClickHouse 18.16 and on 26.x (chdb) alike:
 *
 * - `ALTER TABLE ... DELETE WHERE` and `ALTER TABLE ... UPDATE ... WHERE` (mutations) exist on both; 18.16 has
 *   neither `mutations_sync` nor lightweight `DELETE FROM`, so the caller polls `system.mutations`, whose
 *   `latest_fail_reason` only newer servers have (`mutationsQuery` asks for it where it exists).
 * - No JSON functions (18.16 has none): a payload field is read with `visitParamExtractString`, which both
 *   servers have and which unescapes the JSON string.
 * - Long id lists are cut into statements of at most ID_CHUNK ids, below the server's `max_query_size`
 *   (256 KiB by default) with room for three columns of 64-character ids.
 */
import { CicloError } from '../../infra/errors';
import { distributedArgsOf } from '../migrations/cluster';
import { identifier, stringLiteral } from '../sql';

/**
 * The columns that name a person, in any table of ciclo's database: a row with one of the person's ids in one
 * of them is the person's row, and is deleted.
 * - `customer_id`: touchpoints, stage_changes, customer_state, customer_clv (001).
 * - `anonymous_id`: touchpoints (001): a browser or device, or an email-derived id (`email:...`).
 * - `merged_into`: customer_state (003): the customer a merged profile is now part of. A row naming a forgotten
 *   customer there is a profile of that person (findPersonIds puts its own id in the set too).
 * A migration that adds a column naming a person adds it here.
 */
export const PERSON_ID_COLUMNS: readonly string[] = ['customer_id', 'anonymous_id', 'merged_into'];

/**
 * Payload fields of another person's row that name a person: the row stays (it is the other person's), the
 * field is cut out of the JSON. ReferralMade's `refereeId` is the referred person; the row is the referrer's.
 */
export interface PersonReference {
  readonly table: string;
  /** The touchpoint type whose payload holds the field. */
  readonly type: string;
  readonly column: string;
  readonly field: string;
}

export const PERSON_REFERENCES: readonly PersonReference[] = [
  { table: 'touchpoints', type: 'ReferralMade', column: 'payload', field: 'refereeId' },
];

/** Ids per statement (see the file's comment). */
export const ID_CHUNK = 500;

/** What findPersonIds reads of touchpoints: the links (Identified, Aliased) and Identified traits. */
export const LINK_TYPES = ['Identified', 'Aliased'] as const;

export function chunksOf<T>(items: readonly T[], size = ID_CHUNK): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

function listLiteral(values: readonly string[]): string {
  if (values.length === 0) throw new CicloError('CONFIG_INVALID', 'an IN list needs at least one value');
  return `(${values.map(stringLiteral).join(', ')})`;
}

// ---- Finding a person's ids ----------------------------------------------------------------------------

/** A touchpoint that may link ids or carry traits: an Identified or an Aliased (see linkRowsQuery). */
export interface LinkRow {
  readonly type: string;
  readonly customer_id: string;
  readonly anonymous_id: string;
  readonly payload: string;
}

/** A merged profile's removal row: `customer_id` is now part of `merged_into` (migration 003). */
export interface MergeRow {
  readonly customer_id: string;
  readonly merged_into: string;
}

/**
 * Identified and Aliased touchpoints touching the ids: under one of them, or (Aliased) naming one as its
 * previousId. Every version of a row (no FINAL): a link once projected is a link.
 */
export function linkRowsQuery(database: string, ids: readonly string[]): string {
  const db = identifier(database);
  const list = listLiteral(ids);
  return [
    `SELECT type, customer_id, anonymous_id, payload FROM ${db}.touchpoints`,
    `WHERE type IN ${listLiteral(LINK_TYPES)}`,
    `AND (customer_id IN ${list} OR anonymous_id IN ${list}`,
    `OR (type = 'Aliased' AND visitParamExtractString(payload, 'previousId') IN ${list}))`,
  ].join(' ');
}

/** customer_state's removal rows of the ids, or naming one of them as the customer they were merged into. */
export function mergeRowsQuery(database: string, ids: readonly string[]): string {
  const db = identifier(database);
  const list = listLiteral(ids);
  return (
    `SELECT DISTINCT customer_id, merged_into FROM ${db}.customer_state ` +
    `WHERE merged_into != '' AND (customer_id IN ${list} OR merged_into IN ${list})`
  );
}

/** What a round of lookups found next to a set of ids. */
export interface Linked {
  readonly ids: readonly string[];
  readonly emails: readonly string[];
  readonly names: readonly string[];
}

function payloadOf(row: LinkRow): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(row.payload);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/**
 * The ids, emails and names the rows link to the set `of`, as the processor links ids
 * (schemas/topics.ts `linkedIdOf`): an Identified with both ids joins its anonymous id to its customer; an
 * Aliased joins its previousId to its customer; a removal row joins a merged profile to its survivor. The
 * email and name of an Identified under one of the ids are the person's.
 */
export function linkedTo(
  of: ReadonlySet<string>,
  links: readonly LinkRow[],
  merges: readonly MergeRow[],
): Linked {
  const ids: string[] = [];
  const emails: string[] = [];
  const names: string[] = [];
  for (const row of links) {
    const payload = payloadOf(row);
    if (row.type === 'Identified') {
      if (!of.has(row.customer_id) && !of.has(row.anonymous_id)) continue;
      if (row.customer_id !== '' && row.anonymous_id !== '') ids.push(row.customer_id, row.anonymous_id);
      const email = text(payload.email);
      const name = text(payload.name);
      if (email !== undefined) emails.push(email);
      if (name !== undefined) names.push(name);
    } else if (row.type === 'Aliased') {
      const previousId = text(payload.previousId);
      if (previousId === undefined || row.customer_id === '') continue;
      if (of.has(row.customer_id) || of.has(previousId)) ids.push(row.customer_id, previousId);
    }
  }
  for (const m of merges)
    if (m.customer_id !== '' && m.merged_into !== '' && (of.has(m.customer_id) || of.has(m.merged_into)))
      ids.push(m.customer_id, m.merged_into);
  return { ids, emails, names };
}

// ---- Erasing them --------------------------------------------------------------------------------------

export function tablesQuery(database: string): string {
  return `SELECT name, engine, engine_full FROM system.tables WHERE database = ${stringLiteral(database)}`;
}

export function columnsQuery(database: string): string {
  return `SELECT table, name, type FROM system.columns WHERE database = ${stringLiteral(database)}`;
}

export interface TableRow {
  readonly name: string;
  readonly engine: string;
  /** The engine with its arguments: what a Distributed table reads. */
  readonly engine_full?: string;
}

export interface ColumnRow {
  readonly table: string;
  readonly name: string;
  readonly type: string;
}

/** A table holding persons' rows, with the columns that name them and the payload fields that refer to one. */
export interface PersonTable {
  readonly table: string;
  readonly idColumns: readonly { readonly name: string; readonly isArray: boolean }[];
  readonly references: readonly PersonReference[];
  /** A Replicated table (on a cluster): its mutations reach every replica through ZooKeeper. */
  readonly replicated: boolean;
}

const STRING_TYPE = /^(?:Nullable\(|LowCardinality\()*String\)*$/;
const STRING_ARRAY_TYPE = /^Array\((?:Nullable\(|LowCardinality\()*String\)*\)$/;

function isView(engine: string): boolean {
  return (
    engine === 'View' || engine === 'MaterializedView' || engine === 'LiveView' || engine === 'WindowView'
  );
}

/**
 * The tables of a database that hold persons' rows, from system.tables and system.columns: those with a
 * column of PERSON_ID_COLUMNS (or a PERSON_REFERENCES field's column). Views hold nothing and are skipped.
 * So is a Distributed table (on a cluster, migrations/cluster.ts makes each table T a Distributed T over a
 * Replicated T_local): its rows are in the table it reads, which is erased instead, and PERSON_REFERENCES
 * named for T apply to it. A table that holds persons' rows but cannot be erased (not of the MergeTree
 * family, so no mutations; a name that is not a plain identifier, as a materialized view's inner table; a
 * Distributed table over a table outside the database) is an error: an erasure that would leave rows behind
 * must not report success.
 */
export function personTables(
  tables: readonly TableRow[],
  columns: readonly ColumnRow[],
  database: string,
): PersonTable[] {
  const found: PersonTable[] = [];
  /** Each table a Distributed table of the database reads, and that Distributed table's name. */
  const readBy = new Map<string, string>();
  for (const t of tables) {
    if (t.engine !== 'Distributed') continue;
    const over = distributedArgsOf(t.engine_full ?? '');
    if (over?.database === database && tables.some((u) => u.name === over.table))
      readBy.set(over.table, t.name);
  }
  for (const t of [...tables].sort((a, b) => a.name.localeCompare(b.name))) {
    if (isView(t.engine)) continue;
    const own = columns.filter((c) => c.table === t.name);
    const idColumns = own
      .filter((c) => PERSON_ID_COLUMNS.includes(c.name))
      .map((c) => {
        if (STRING_TYPE.test(c.type)) return { name: c.name, isArray: false };
        if (STRING_ARRAY_TYPE.test(c.type)) return { name: c.name, isArray: true };
        throw new CicloError(
          'CONFIG_INVALID',
          `${t.name}.${c.name} names a person but is of type ${c.type}: only String and Array(String) can be erased`,
        );
      });
    const names = [t.name, readBy.get(t.name)];
    const references = PERSON_REFERENCES.filter(
      (r) =>
        names.includes(r.table) &&
        own.some((c) => c.name === r.column && STRING_TYPE.test(c.type)) &&
        own.some((c) => c.name === 'type'),
    );
    if (idColumns.length === 0 && references.length === 0) continue;
    if (t.engine === 'Distributed') {
      if ([...readBy.values()].includes(t.name)) continue;
      throw new CicloError(
        'CONFIG_INVALID',
        `table ${t.name} holds persons' rows but is Distributed over a table outside ${database} (${t.engine_full ?? 'unknown'}): erase them there`,
      );
    }
    if (!t.engine.endsWith('MergeTree'))
      throw new CicloError(
        'CONFIG_INVALID',
        `table ${t.name} holds persons' rows but its engine ${t.engine} has no mutations: it cannot be erased`,
      );
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(t.name))
      throw new CicloError(
        'CONFIG_INVALID',
        `table "${t.name}" holds persons' rows but its name is not a plain identifier: it cannot be erased`,
      );
    found.push({ table: t.name, idColumns, references, replicated: t.engine.startsWith('Replicated') });
  }
  return found;
}

/**
 * Waits until this replica has fetched every part the replication log holds, so that what it counts
 * includes rows written through another replica (ClickHouse's SYSTEM SYNC REPLICA, on 18.16 too).
 */
export function syncReplicaSql(database: string, table: string): string {
  return `SYSTEM SYNC REPLICA ${identifier(database)}.${identifier(table)}`;
}

/** Rows of the table naming one of the ids in any of its person columns. */
export function personCondition(table: PersonTable, ids: readonly string[]): string | undefined {
  if (table.idColumns.length === 0) return undefined;
  const list = listLiteral(ids);
  const array = `[${ids.map(stringLiteral).join(', ')}]`;
  return table.idColumns
    .map((c) => (c.isArray ? `hasAny(${identifier(c.name)}, ${array})` : `${identifier(c.name)} IN ${list}`))
    .join(' OR ');
}

/** Rows of other persons whose payload refers to one of the ids. */
export function referenceCondition(reference: PersonReference, ids: readonly string[]): string {
  return (
    `type = ${stringLiteral(reference.type)} AND ` +
    `visitParamExtractString(${identifier(reference.column)}, ${stringLiteral(reference.field)}) IN ${listLiteral(ids)}`
  );
}

/**
 * The JSON field cut out of a payload: `"field":"value"` with the comma that joins it to its neighbour
 * (a leading one, else a trailing one), so `{"a":"x","refereeId":"y"}` becomes `{"a":"x"}`. The value is any
 * JSON string (escapes included); JSON.stringify, which wrote the payload, puts no spaces between tokens.
 */
export function withoutField(column: string, field: string): string {
  const name = field.replace(/[^A-Za-z0-9_]/g, '');
  if (name !== field) throw new CicloError('CONFIG_INVALID', `"${field}" is not a plain payload field name`);
  const value = String.raw`"(?:[^"\\]|\\.)*"`;
  const pattern = `,"${name}":${value}|"${name}":${value},?`;
  return `replaceRegexpAll(${identifier(column)}, ${stringLiteral(pattern)}, '')`;
}

/** One step of an erasure: how many rows it affects, and the mutation that does it. */
export interface ErasureStep {
  readonly table: string;
  readonly kind: 'delete' | 'scrub';
  readonly countSql: string;
  readonly mutationSql: string;
}

/**
 * The statements that erase the ids from the tables: per table (in name order) and per chunk of ids, a
 * DELETE of the rows naming them, then an UPDATE cutting references to them out of other persons' rows
 * (after the delete, so it does not rewrite rows about to go).
 */
export function erasureSteps(
  database: string,
  tables: readonly PersonTable[],
  ids: readonly string[],
): ErasureStep[] {
  const db = identifier(database);
  const steps: ErasureStep[] = [];
  const chunks = chunksOf([...new Set(ids)].sort());
  for (const t of tables) {
    const name = `${db}.${identifier(t.table)}`;
    for (const chunk of chunks) {
      const where = personCondition(t, chunk);
      if (where === undefined) continue;
      steps.push({
        table: t.table,
        kind: 'delete',
        countSql: `SELECT count() AS n FROM ${name} WHERE ${where}`,
        mutationSql: `ALTER TABLE ${name} DELETE WHERE ${where}`,
      });
    }
    for (const r of t.references)
      for (const chunk of chunks) {
        // Not the rows the delete takes (a person who referred themselves): they go, and are counted there.
        const own = personCondition(t, chunk);
        const where = referenceCondition(r, chunk) + (own === undefined ? '' : ` AND NOT (${own})`);
        steps.push({
          table: t.table,
          kind: 'scrub',
          countSql: `SELECT count() AS n FROM ${name} WHERE ${where}`,
          mutationSql: `ALTER TABLE ${name} UPDATE ${identifier(r.column)} = ${withoutField(r.column, r.field)} WHERE ${where}`,
        });
      }
  }
  return steps;
}

/** Whether system.mutations has latest_fail_reason (19.x on), from system.columns of that table. */
export const MUTATION_COLUMNS_QUERY =
  "SELECT name FROM system.columns WHERE database = 'system' AND table = 'mutations'";

export interface MutationRow {
  readonly table: string;
  readonly mutation_id: string;
  readonly command: string;
  readonly parts_to_do: number | string;
  readonly latest_fail_reason?: string;
}

/** The mutations of the tables not done yet. */
export function mutationsQuery(database: string, tables: readonly string[], hasFailReason: boolean): string {
  return (
    `SELECT table, mutation_id, command, parts_to_do${hasFailReason ? ', latest_fail_reason' : ''} ` +
    `FROM system.mutations WHERE database = ${stringLiteral(database)} AND table IN ${listLiteral(tables)} ` +
    `AND is_done = 0`
  );
}

/** Pending mutations, for an error: table, id, parts left, and why the server says the latest try failed. */
export function describeMutations(rows: readonly MutationRow[]): string {
  return rows
    .map(
      (r) =>
        `${r.table} ${r.mutation_id} (${Number(r.parts_to_do)} parts to do` +
        (r.latest_fail_reason ? `; latest failure: ${r.latest_fail_reason.split('\n')[0]}` : '') +
        ')',
    )
    .join('; ');
}
