/** Scanning a ClickHouse database for text: which columns of which tables hold a needle anywhere. */
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { identifier, stringLiteral } from '../../projections/sql';

interface Column {
  table: string;
  name: string;
  type: string;
}

const STRING = /^(?:Nullable\(|LowCardinality\()*String\)*$/;
const STRING_ARRAY = /^Array\((?:Nullable\(|LowCardinality\()*String\)*\)$/;

/** Every String and Array(String) column of every table (not view) of the database. */
async function textColumns(engine: ClickHouseEngine, db: string): Promise<Column[]> {
  return (
    await engine.query<Column>(
      `SELECT c.table AS table, c.name AS name, c.type AS type FROM system.columns AS c
       WHERE c.database = ${stringLiteral(db)} AND c.table IN (
         SELECT name FROM system.tables WHERE database = ${stringLiteral(db)} AND engine NOT IN ('View', 'MaterializedView'))`,
    )
  ).filter((c) => STRING.test(c.type) || STRING_ARRAY.test(c.type));
}

/** `table.column: needle` for each column holding a needle anywhere in a value (case aside). */
export async function holders(
  engine: ClickHouseEngine,
  db: string,
  needles: readonly string[],
): Promise<string[]> {
  const found: string[] = [];
  for (const c of await textColumns(engine, db)) {
    const column = identifier(c.name);
    for (const needle of needles) {
      const n = stringLiteral(needle);
      const match = STRING.test(c.type)
        ? `positionCaseInsensitive(${column}, ${n}) > 0`
        : `arrayExists(x -> positionCaseInsensitive(x, ${n}) > 0, ${column})`;
      const [row] = await engine.query<{ n: string | number }>(
        `SELECT count() AS n FROM ${identifier(db)}.${identifier(c.table)} WHERE ${match}`,
      );
      if (Number(row?.n) > 0) found.push(`${c.table}.${c.name}: ${needle}`);
    }
  }
  return found;
}
