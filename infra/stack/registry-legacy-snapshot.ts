/**
 * A one-time move for stacks made before the registry kept its schemas in PostgreSQL: those saved them at
 * `stack down` to registry/schemas.json. Messages in Kafka carry those schemas' ids, so the first start on
 * PostgreSQL registers each saved schema under its subject with the id it had (the id sequence is set
 * before each registration), then renames the file so it is never read again.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PostgresDatabase } from './postgresql-service';
import { REGISTRY_DATABASE } from './registry-tables';

interface SavedSchema {
  readonly id: number;
  readonly subject: string;
  readonly schema: string;
}

const ID_SEQUENCE = 'schema_version_info_id_seq';

export async function importLegacySnapshot(
  registryDir: string,
  confluentBase: string,
  database: PostgresDatabase,
  say: (line: string) => void,
): Promise<void> {
  const file = path.join(registryDir, 'schemas.json');
  if (!fs.existsSync(file)) return;
  const saved = (JSON.parse(fs.readFileSync(file, 'utf8')) as SavedSchema[]).sort((a, b) => a.id - b.id);
  const subjects = (await (await fetch(`${confluentBase}/subjects`)).json()) as string[];
  const done = `${file}.imported`;
  if (subjects.length > 0) {
    fs.renameSync(file, done);
    say(
      `schema-registry: ${file} left unread (the registry already holds ${subjects.length} subjects); moved to ${done}`,
    );
    return;
  }
  const moved: string[] = [];
  for (const entry of saved) {
    // setval(..., false): the next id the sequence hands out is exactly entry.id.
    await database.query(REGISTRY_DATABASE, `SELECT setval('${ID_SEQUENCE}', ${Number(entry.id)}, false)`);
    const res = await fetch(`${confluentBase}/subjects/${encodeURIComponent(entry.subject)}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: entry.schema }),
    });
    const body = (await res.json().catch(() => ({}))) as { id?: number };
    if (!res.ok || body.id !== entry.id)
      moved.push(`${entry.subject} id ${entry.id} -> ${body.id ?? `HTTP ${res.status}`}`);
  }
  fs.renameSync(file, done);
  say(
    moved.length === 0
      ? `schema-registry: imported ${saved.length} schemas from ${file} with their ids; moved it to ${done}`
      : `schema-registry: imported ${saved.length} schemas from ${file}, but ${moved.length} came back with other ids (messages written with the old ids will not decode): ${moved.slice(0, 5).join('; ')}`,
  );
}
