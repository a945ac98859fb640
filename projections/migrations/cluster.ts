/**
 * The migrations on a replicated ClickHouse: each statement of a migration file, written for one server,
 * placed on a cluster (remote_servers) of one shard. Pure: statements in, statements out, no I/O. Without a
 * cluster every statement runs once, as written; the files and their checksums are the same either way.
 *
 * Each table T becomes two tables:
 * - `T_local`, ON CLUSTER, engine `Replicated<Engine>('/clickhouse/tables/{shard}/<db>/T_local', '{replica}',
 *   <the engine's own arguments>)`: it holds the rows, and ZooKeeper copies every insert and mutation to every
 *   replica. The macros `shard` and `replica` are each server's (18.16 has no `{database}` or `{table}` macro,
 *   so the path names them).
 * - `T`, ON CLUSTER, engine `Distributed(<cluster>, <db>, T_local)`, with T's columns: what the projector
 *   writes and every query and view reads, by the same name as on one server.
 * Views are made ON CLUSTER over the Distributed names, so every server answers every report.
 *
 * What Debian's ClickHouse 18.16 cannot run ON CLUSTER, as 18.16.1 answered:
 * - `ALTER ... ON CLUSTER` takes column changes, partitions and mutations only: COMMENT COLUMN is
 *   "Unsupported type of ALTER query". Comments are set on each server (`each-server`).
 * - A comment on a column of a Replicated table, in CREATE TABLE or by ALTER, breaks the table: its columns
 *   in ZooKeeper carry the comment where 18.16 reads a default, so the second replica's CREATE fails ("Table
 *   structure in ZooKeeper is too different") and an ALTER leaves every replica's alter thread failing
 *   ("Unknown identifier"). `T_local` gets no comments; `T` (Distributed) and the views carry them.
 * - `ALTER TABLE T ON CLUSTER` of a Distributed table fails when the shard has internal_replication ("Table T
 *   isn't replicated, but shard #1 is replicated according to its cluster definition"): a column added to a
 *   table is added to `T_local` ON CLUSTER, then to `T` on each server.
 * Every CREATE gets IF NOT EXISTS and every DROP gets IF EXISTS, so a migration that stopped half-way (a
 * server timed out) can run again; ADD COLUMN cannot (18.16 has no ADD COLUMN IF NOT EXISTS), as on one
 * server.
 *
 * Only the shapes ciclo's migrations use are placed: CREATE DATABASE, CREATE TABLE of the MergeTree family,
 * CREATE VIEW, DROP TABLE, ALTER TABLE ... ADD COLUMN and ALTER TABLE ... COMMENT COLUMN. Any other
 * statement is an error naming it, so a migration cannot skip the cluster unnoticed: teach this file its
 * shape first.
 */
import { CicloError } from '../../infra/errors';
import { identifier, stringLiteral } from '../sql';

/** Where migrations go: ciclo's database on a cluster of remote_servers. */
export interface ClusterTarget {
  readonly database: string;
  readonly cluster: string;
}

/**
 * `once`: on the server migrate is connected to (a statement ON CLUSTER reaches every server from there);
 * `each-server`: on every server of the cluster, one after the other.
 */
export type Placement = 'once' | 'each-server';

export interface PlacedStatement {
  readonly sql: string;
  readonly on: Placement;
}

/** The table that holds the rows of table `name` on a cluster; `name` itself is the Distributed table. */
export function localTableOf(name: string): string {
  return identifier(`${name}_local`);
}

/** The ZooKeeper path of a replicated table: one per shard, the replicas of a shard share it. */
export function replicationPathOf(database: string, localTable: string): string {
  return `/clickhouse/tables/{shard}/${identifier(database)}/${identifier(localTable)}`;
}

/**
 * The statements of one migration as they run on `target`: without a cluster, each once and untouched;
 * with one, each placed by placeOnCluster, in order.
 */
export function placeStatements(
  statements: readonly string[],
  target: ClusterTarget | undefined,
): PlacedStatement[] {
  if (target === undefined) return statements.map((sql) => ({ sql, on: 'once' }));
  return statements.flatMap((s) => placeOnCluster(s, target));
}

/** One statement on the cluster (see the file's comment); throws for a statement of another shape. */
export function placeOnCluster(statement: string, target: ClusterTarget): PlacedStatement[] {
  const db = identifier(target.database);
  const cluster = clusterName(target.cluster);
  const s = new Statement(statement, target);
  if (s.accept('CREATE', 'DATABASE')) {
    s.accept('IF', 'NOT', 'EXISTS');
    const name = s.word('a database name');
    if (name !== db) s.fail(`it creates database ${name}, not ${db}`);
    s.end();
    return [once(`CREATE DATABASE IF NOT EXISTS ${db} ON CLUSTER ${cluster}`)];
  }
  if (s.accept('CREATE', 'TABLE')) return createTable(s, db, cluster);
  if (s.accept('CREATE', 'VIEW')) {
    s.accept('IF', 'NOT', 'EXISTS');
    const name = s.tableName();
    s.expect('AS');
    return [once(`CREATE VIEW IF NOT EXISTS ${db}.${name} ON CLUSTER ${cluster} AS ${s.rest()}`)];
  }
  if (s.accept('DROP', 'TABLE')) {
    // A view or a table: a table's rows are in its local table, dropped after the Distributed one over it.
    s.accept('IF', 'EXISTS');
    const name = s.tableName();
    s.end();
    return [
      once(`DROP TABLE IF EXISTS ${db}.${name} ON CLUSTER ${cluster}`),
      once(`DROP TABLE IF EXISTS ${db}.${localTableOf(name)} ON CLUSTER ${cluster}`),
    ];
  }
  if (s.accept('ALTER', 'TABLE')) return alterTable(s, db, cluster);
  return s.fail('it is not one of the statements this file places');
}

function createTable(s: Statement, db: string, cluster: string): PlacedStatement[] {
  s.accept('IF', 'NOT', 'EXISTS');
  const name = s.tableName();
  const columns = splitTopLevel(s.group('the column list'), ',').map((column) => checkColumn(s, column));
  s.expect('ENGINE');
  s.expect('=');
  const engine = s.word('an engine');
  if (!MERGE_TREE_ENGINES.test(engine)) s.fail(`engine ${engine} has no Replicated form`);
  const args = s.optionalGroup();
  const clauses = s.rest(); // PARTITION BY, ORDER BY, SETTINGS: the local table's, as written
  const local = localTableOf(name);
  const replicatedArgs = [
    stringLiteral(replicationPathOf(db, local)),
    stringLiteral('{replica}'),
    ...(args === undefined || args.trim() === '' ? [] : [args.trim()]),
  ].join(', ');
  return [
    once(
      `CREATE TABLE IF NOT EXISTS ${db}.${local} ON CLUSTER ${cluster} (\n  ${columns.map(withoutComments).join(',\n  ')}\n)` +
        ` ENGINE = Replicated${engine}(${replicatedArgs})${clauses === '' ? '' : `\n${clauses}`}`,
    ),
    once(
      `CREATE TABLE IF NOT EXISTS ${db}.${name} ON CLUSTER ${cluster} (\n  ${columns.join(',\n  ')}\n)` +
        ` ENGINE = Distributed(${cluster}, ${db}, ${local})`,
    ),
  ];
}

function alterTable(s: Statement, db: string, cluster: string): PlacedStatement[] {
  const name = s.tableName();
  const clauses = splitTopLevel(s.rest(), ',');
  const kinds = new Set(
    clauses.map((clause) => {
      const words = tokenize(clause)
        .slice(0, 2)
        .map((t) => t.text.toUpperCase())
        .join(' ');
      if (words === 'ADD COLUMN') checkColumn(s, clause.replace(/^\s*ADD\s+COLUMN\s+/i, ''));
      if (words === 'ADD COLUMN' || words === 'COMMENT COLUMN') return words;
      return s.fail(`ALTER ... ${words} is not placed (only ADD COLUMN and COMMENT COLUMN are)`);
    }),
  );
  if (kinds.size > 1) s.fail('it mixes ADD COLUMN and COMMENT COLUMN: write them as two statements');
  // A comment goes to the Distributed table or the view of that name, on each server (18.16 refuses it ON
  // CLUSTER, and a Replicated table must not get one): the statement as written.
  if (kinds.has('COMMENT COLUMN')) return [{ sql: s.source, on: 'each-server' }];
  return [
    once(
      `ALTER TABLE ${db}.${localTableOf(name)} ON CLUSTER ${cluster} ${clauses.map(withoutComments).join(', ')}`,
    ),
    { sql: `ALTER TABLE ${db}.${name} ${clauses.join(', ')}`, on: 'each-server' },
  ];
}

const once = (sql: string): PlacedStatement => ({ sql, on: 'once' });

/** A column definition both tables can take: a name, a type, a DEFAULT and a COMMENT at most. */
function checkColumn(s: Statement, column: string): string {
  const tokens = tokenize(column);
  const first = tokens[0]?.text.toUpperCase() ?? '';
  if (['INDEX', 'CONSTRAINT', 'PROJECTION'].includes(first))
    s.fail(`its ${first} cannot be copied to the Distributed table`);
  const unplaced = tokens.find(
    (t, i) => i > 0 && t.kind === 'word' && COLUMN_CLAUSES_NOT_PLACED.includes(t.text.toUpperCase()),
  );
  if (unplaced) s.fail(`column ${tokens[0]?.text ?? ''} has ${unplaced.text.toUpperCase()}`);
  return column;
}

/** Engines with a Replicated form that ciclo's rows can live in. */
const MERGE_TREE_ENGINES =
  /^(?:|Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing|Graphite)MergeTree$/;

/** Column clauses whose meaning on a Distributed table this file has not worked out. */
const COLUMN_CLAUSES_NOT_PLACED = ['MATERIALIZED', 'ALIAS', 'EPHEMERAL', 'CODEC', 'TTL'];

function clusterName(cluster: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(cluster))
    throw new CicloError(
      'CONFIG_INVALID',
      `cluster "${cluster}" must be a plain name (letters, digits, _) to be used ON CLUSTER`,
    );
  return cluster;
}

/** A column definition or ADD COLUMN clause without its `COMMENT '...'`. */
function withoutComments(text: string): string {
  const tokens = tokenize(text);
  let out = '';
  let from = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t.kind === 'word' && t.text.toUpperCase() === 'COMMENT' && next?.kind === 'string') {
      out += text.slice(from, t.start).trimEnd();
      from = next.end;
      i++;
    }
  }
  return (out + text.slice(from)).trim();
}

// ---- A small lexer: enough of ClickHouse's SQL to find words, strings and brackets -------------------

interface Token {
  readonly kind: 'word' | 'string' | 'quoted' | 'group' | 'punct';
  /** The token as written; a group's text is what is inside its brackets. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/**
 * The top-level tokens of `sql`: words (identifiers, keywords, numbers), string literals, quoted identifiers,
 * bracketed groups (one token each, nested brackets inside) and single punctuation characters. Comments
 * (`--` to the end of the line) are skipped.
 */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? sql.length : eol + 1;
    } else if (c === "'" || c === '`' || c === '"') {
      const end = quotedEnd(sql, i);
      tokens.push({ kind: c === "'" ? 'string' : 'quoted', text: sql.slice(i, end), start: i, end });
      i = end;
    } else if (c === '(' || c === '[') {
      const end = groupEnd(sql, i);
      tokens.push({ kind: 'group', text: sql.slice(i + 1, end - 1), start: i, end });
      i = end;
    } else if (/[A-Za-z0-9_]/.test(c)) {
      const start = i;
      while (i < sql.length && /[A-Za-z0-9_]/.test(sql[i]!)) i++;
      tokens.push({ kind: 'word', text: sql.slice(start, i), start, end: i });
    } else {
      tokens.push({ kind: 'punct', text: c, start: i, end: i + 1 });
      i++;
    }
  }
  return tokens;
}

/**
 * The index after the closing quote of the literal or identifier opened at `open`. Inside, a backslash
 * escapes the next character and a doubled quote is a quote.
 */
function quotedEnd(sql: string, open: number): number {
  const quote = sql[open];
  for (let i = open + 1; i < sql.length; i++) {
    if (sql[i] === '\\') i++;
    else if (sql[i] === quote && sql[i + 1] === quote) i++;
    else if (sql[i] === quote) return i + 1;
  }
  throw new CicloError('CONFIG_INVALID', `unterminated ${quote} quote in: ${sql.slice(open, open + 60)}`);
}

/** The index after the bracket that closes the one at `open`. */
function groupEnd(sql: string, open: number): number {
  const closing: string[] = [];
  for (let i = open; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '`' || c === '"') i = quotedEnd(sql, i) - 1;
    else if (c === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? sql.length : eol;
    } else if (c === '(') closing.push(')');
    else if (c === '[') closing.push(']');
    else if (c === ')' || c === ']') {
      if (closing.pop() !== c) break;
      if (closing.length === 0) return i + 1;
    }
  }
  throw new CicloError('CONFIG_INVALID', `unbalanced brackets in: ${sql.slice(open, open + 60)}`);
}

/**
 * `text` cut at the separators outside strings and brackets, each part trimmed and without the `--` comments
 * between its tokens (a comment after a column would otherwise open the next column's text).
 */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: Token[][] = [[]];
  for (const t of tokenize(text))
    if (t.kind === 'punct' && t.text === separator) parts.push([]);
    else parts[parts.length - 1]!.push(t);
  return parts
    .filter((tokens) => tokens.length > 0)
    .map((tokens) =>
      tokens
        .map((t, i) => {
          const next = tokens[i + 1];
          const gap = next === undefined ? '' : text.slice(t.end, next.start);
          return text.slice(t.start, t.end) + (gap.includes('--') ? ' ' : gap);
        })
        .join(''),
    );
}

/** A statement read token by token, with errors that quote it. */
class Statement {
  private readonly tokens: Token[];
  private at = 0;

  constructor(
    readonly source: string,
    private readonly target: ClusterTarget,
  ) {
    try {
      this.tokens = tokenize(source);
    } catch (err) {
      this.tokens = [];
      this.fail((err as Error).message);
    }
  }

  fail(why: string): never {
    const head = this.source.replace(/\s+/g, ' ').slice(0, 100);
    throw new CicloError(
      'CONFIG_INVALID',
      `cannot place "${head}${this.source.length > 100 ? '...' : ''}" on cluster ${this.target.cluster}: ${why}` +
        ' (projections/migrations/cluster.ts places CREATE DATABASE, CREATE TABLE of the MergeTree family,' +
        ' CREATE VIEW, DROP TABLE, ALTER TABLE ADD COLUMN and ALTER TABLE COMMENT COLUMN)',
    );
  }

  /** Takes the words if they come next (case-insensitive); else takes nothing. */
  accept(...words: string[]): boolean {
    const ok = words.every((w, k) => {
      const t = this.tokens[this.at + k];
      return t !== undefined && t.kind !== 'string' && t.text.toUpperCase() === w;
    });
    if (ok) this.at += words.length;
    return ok;
  }

  expect(word: string): void {
    if (!this.accept(word)) this.fail(`expected ${word} at "${this.tokens[this.at]?.text ?? 'the end'}"`);
  }

  word(what: string): string {
    const t = this.tokens[this.at];
    if (t?.kind !== 'word') return this.fail(`expected ${what} at "${t?.text ?? 'the end'}"`);
    this.at++;
    return t.text;
  }

  /** `<database>.<table>`, of the target's database; returns the table. */
  tableName(): string {
    const database = this.word('a database name');
    this.expect('.');
    const table = this.word('a table name');
    if (database !== this.target.database)
      this.fail(`it names a table of database ${database}, not ${this.target.database}`);
    if (this.tokens[this.at]?.text.toUpperCase() === 'ON') this.fail('it already says ON CLUSTER');
    return identifier(table);
  }

  group(what: string): string {
    const t = this.tokens[this.at];
    if (t?.kind !== 'group' || this.source[t.start] !== '(') return this.fail(`expected ${what}`);
    this.at++;
    return t.text;
  }

  optionalGroup(): string | undefined {
    const t = this.tokens[this.at];
    if (t?.kind !== 'group' || this.source[t.start] !== '(') return undefined;
    this.at++;
    return t.text;
  }

  /** The source from the next token on, as written. */
  rest(): string {
    const t = this.tokens[this.at];
    this.at = this.tokens.length;
    return t === undefined ? '' : this.source.slice(t.start).trim();
  }

  end(): void {
    const t = this.tokens[this.at];
    if (t !== undefined) this.fail(`unexpected "${t.text}"`);
  }
}

// ---- What migrate checks before it runs anything on a cluster ---------------------------------------

/** A row of `system.clusters` for the cluster. */
export interface ClusterMemberRow {
  readonly shard_num: number | string;
  readonly replica_num: number | string;
  readonly host_name: string;
  readonly port: number | string;
}

/** A server migrate is connected to, and its `system.macros`. */
export interface ServerMacros {
  readonly server: string;
  readonly macros: Readonly<Record<string, string>>;
}

/**
 * Why the servers cannot take the migrations ON CLUSTER (none: they can). The cluster must exist and have one
 * shard: the views read through FINAL and join on the server that answers, which sees every row only when
 * every server holds all of them. Migrate must reach each server of it (column comments are set server by
 * server) and each must have the `shard` and `replica` macros the replication paths use.
 */
export function clusterProblems(
  cluster: string,
  members: readonly ClusterMemberRow[],
  servers: readonly ServerMacros[],
): string[] {
  if (members.length === 0) return [`the server has no cluster "${cluster}" in its remote_servers`];
  const problems: string[] = [];
  const shards = new Set(members.map((m) => Number(m.shard_num)));
  if (shards.size > 1)
    problems.push(
      `cluster ${cluster} has ${shards.size} shards: ciclo's views read every row on the server that answers, so the cluster must be one shard of any number of replicas`,
    );
  if (servers.length !== members.length)
    problems.push(
      `cluster ${cluster} has ${members.length} servers (${members.map((m) => `${m.host_name}:${m.port}`).join(', ')}) ` +
        `and migrate reaches ${servers.length}: give the URL of every server (CLICKHOUSE_URL, comma-separated)`,
    );
  const byReplica = new Map<string, string>();
  for (const s of servers) {
    for (const macro of ['shard', 'replica'])
      if (!s.macros[macro]) problems.push(`${s.server} has no "${macro}" macro (<macros> in its config)`);
    const replica = s.macros.replica;
    if (!replica) continue;
    const other = byReplica.get(replica);
    if (other !== undefined)
      problems.push(
        `${other} and ${s.server} both have replica macro "${replica}": each server needs its own`,
      );
    byReplica.set(replica, s.server);
  }
  return problems;
}

/** `system.tables`' row of schema_migrations. */
export interface MigrationsTableRow {
  readonly engine: string;
  readonly engine_full: string;
}

/**
 * Why the database's migrations cannot go on as asked (none: they can). A database migrated ON CLUSTER has a
 * Distributed schema_migrations over that cluster; one migrated on one server has a plain one. ciclo does
 * not move a database from one to the other: the tables would have to be made again and their rows copied.
 */
export function migrationsTableProblem(
  database: string,
  row: MigrationsTableRow | undefined,
  cluster: string | undefined,
): string | undefined {
  if (row === undefined) return undefined;
  const migratedOn = row.engine === 'Distributed' ? distributedArgsOf(row.engine_full)?.cluster : undefined;
  if (row.engine === 'Distributed' && cluster === undefined)
    return `database ${database} was migrated ON CLUSTER ${migratedOn ?? '(unknown)'}: give that cluster (--cluster, CLICKHOUSE_CLUSTER)`;
  if (row.engine !== 'Distributed' && cluster !== undefined)
    return `database ${database} was migrated on one server (its schema_migrations is ${row.engine}), not ON CLUSTER ${cluster}: use a new database for the cluster`;
  if (cluster !== undefined && migratedOn !== cluster)
    return `database ${database} was migrated ON CLUSTER ${migratedOn ?? '(unknown)'}, not ${cluster}`;
  return undefined;
}

/** The arguments of `Distributed(cluster, database, table[, ...])` as system.tables' engine_full shows them. */
export function distributedArgsOf(
  engineFull: string,
): { cluster: string; database: string; table: string } | undefined {
  const tokens = tokenize(engineFull);
  if (tokens[0]?.text !== 'Distributed' || tokens[1]?.kind !== 'group') return undefined;
  const [cluster, database, table] = splitTopLevel(tokens[1].text, ',').map((a) =>
    a.replace(/^(['"`])(.*)\1$/s, '$2'),
  );
  if (cluster === undefined || database === undefined || table === undefined) return undefined;
  return { cluster, database, table };
}
