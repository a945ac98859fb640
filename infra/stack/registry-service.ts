/**
 * The Schema Registry for machines without Docker: Hortonworks Schema Registry, a real Apache-2.0 registry
 * whose Confluent-compatible resource (/api/v1/confluent) serves what ciclo and the Confluent serdes use:
 * register under a subject, list subjects and versions, fetch by id, 409 on an incompatible schema.
 *
 * Why not the first choices: Karapace is not published on PyPI at all, and Apicurio Registry 2.x/3.x need
 * module jars (e.g. apicurio-registry-schema-util-provider) that the Maven Central reachable here lacks.
 * Known limit: its storage here is in memory (its JDBC storage needs MySQL or PostgreSQL), so schemas live
 * as long as the registry process; `ciclo topics ensure` re-registers ciclo's schemas after a restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { copyDependencies, pomFor } from './maven';
import { requireJava, requireMaven } from './prerequisites';
import { startDetached } from './processes';
import type { NativeService, ServiceHealth } from './service';
import { STACK_PORTS, STACK_VERSIONS } from './versions';

/** Its parent POMs name extra repositories that cannot be reached here; everything resolves from Central. */
const CENTRAL_ONLY_SETTINGS = `<settings>
  <mirrors>
    <mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>https://repo1.maven.org/maven2</url></mirror>
  </mirrors>
</settings>
`;

export function schemaRegistryService(home: string): NativeService {
  const dir = path.join(home, 'registry');
  const libs = path.join(dir, `libs-${STACK_VERSIONS.hortonworksRegistry}`);
  const base = `http://127.0.0.1:${STACK_PORTS.schemaRegistry}`;
  const snapshotFile = path.join(dir, 'schemas.json');

  const registryYaml = `# Written by ciclo stack; edits are overwritten at each start.
modules:
  - name: schema-registry
    className: com.hortonworks.registries.schemaregistry.webservice.SchemaRegistryModule
    config:
      schemaProviders:
        - providerClass: "com.hortonworks.registries.schemaregistry.avro.AvroSchemaProvider"
          defaultSerializerClass: "com.hortonworks.registries.schemaregistry.serdes.avro.AvroSnapshotSerializer"
          defaultDeserializerClass: "com.hortonworks.registries.schemaregistry.serdes.avro.AvroSnapshotDeserializer"
          hashFunction: MD5
      schemaCacheSize: 10000
      schemaCacheExpiryInterval: 3600
servletFilters: []
storageProviderConfiguration:
  providerClass: "com.hortonworks.registries.storage.impl.memory.InMemoryStorageManager"
fileStorageConfiguration:
  className: "com.hortonworks.registries.common.util.LocalFileSystemStorage"
  properties:
    directory: "${dir}/files"
swagger:
  resourcePackage: com.hortonworks.registries.schemaregistry.webservice
server:
  applicationConnectors:
    - type: http
      bindHost: 127.0.0.1
      port: ${STACK_PORTS.schemaRegistry}
  adminConnectors:
    - type: http
      bindHost: 127.0.0.1
      port: ${STACK_PORTS.schemaRegistryAdmin}
logging:
  level: WARN
`;

  return {
    name: 'schema-registry',
    address: `${base}/api/v1/confluent`,
    ports: [STACK_PORTS.schemaRegistry, STACK_PORTS.schemaRegistryAdmin],
    logFile: path.join(dir, 'registry.log'),
    pidFile: path.join(dir, 'registry.pid'),
    startTimeoutMs: 90_000,

    async install(say) {
      await requireJava(STACK_VERSIONS.javaMajor);
      if (fs.existsSync(libs)) return false;
      await requireMaven(`the Schema Registry ${STACK_VERSIONS.hortonworksRegistry}`);
      say(`installing Hortonworks Schema Registry ${STACK_VERSIONS.hortonworksRegistry} from Maven Central`);
      const workDir = path.join(dir, 'maven');
      fs.mkdirSync(workDir, { recursive: true });
      const settings = path.join(workDir, 'settings.xml');
      fs.writeFileSync(settings, CENTRAL_ONLY_SETTINGS);
      const pom = pomFor('schema-registry-runtime', [
        {
          groupId: 'com.hortonworks.registries',
          artifactId: 'schema-registry-webservice',
          version: STACK_VERSIONS.hortonworksRegistry,
        },
      ]);
      await copyDependencies(workDir, pom, libs, ['-s', settings]);
      return true;
    },

    start() {
      fs.mkdirSync(path.join(dir, 'files'), { recursive: true });
      const config = path.join(dir, 'registry.yaml');
      fs.writeFileSync(config, registryYaml);
      startDetached({
        command: 'java',
        args: [
          '-Xms128m',
          '-Xmx512m',
          '-Djava.awt.headless=true',
          '-cp',
          `${libs}/*`,
          'com.hortonworks.registries.webservice.RegistryApplication',
          'server',
          config,
        ],
        cwd: dir,
        logFile: this.logFile,
        pidFile: this.pidFile,
      });
      return Promise.resolve();
    },

    // The registry keeps schemas in memory (its JDBC storage needs MySQL or PostgreSQL), but Kafka keeps
    // messages that name them by id. So `stack down` saves every schema with its subject and id, and the
    // next `stack up` registers them again in id order, with the ids the original run lost to refused
    // registrations spent again (restorePlan): they get their old ids back and messages written before the
    // restart still decode. Checked, not assumed: a schema whose id comes back different is reported.
    async beforeStop(say) {
      const saved = await listRegisteredSchemas(`${base}/api/v1/confluent`);
      fs.writeFileSync(snapshotFile, `${JSON.stringify(saved, null, 1)}\n`);
      say(`schema-registry: saved ${saved.length} schemas (${snapshotFile})`);
    },

    async afterStart(say) {
      if (!fs.existsSync(snapshotFile)) return;
      const saved = JSON.parse(fs.readFileSync(snapshotFile, 'utf8')) as RegisteredSchema[];
      const moved: string[] = [];
      const post = async (subject: string, schema: string): Promise<{ status: number; id?: number }> => {
        const res = await fetch(`${base}/api/v1/confluent/subjects/${encodeURIComponent(subject)}/versions`, {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
          body: JSON.stringify({ schema }),
        });
        const body = (await res.json().catch(() => ({}))) as { id?: number };
        return { status: res.status, ...(body.id !== undefined ? { id: body.id } : {}) };
      };
      for (const step of restorePlan(saved)) {
        if (step.kind === 'refuse') {
          const { status } = await post(step.subject, ID_SPENDER_SCHEMA);
          if (status !== 409)
            moved.push(`${step.subject} took a placeholder schema meant to be refused (HTTP ${status})`);
          continue;
        }
        const { entry } = step;
        const { status, id } = await post(entry.subject, entry.schema);
        if (status >= 300 || id !== entry.id)
          moved.push(`${entry.subject} id ${entry.id} -> ${id ?? `HTTP ${status}`}`);
      }
      say(
        moved.length === 0
          ? `schema-registry: restored ${saved.length} schemas with their ids`
          : `schema-registry: restored ${saved.length} schemas, but ${moved.length} came back with other ids (messages written with the old ids will not decode): ${moved.slice(0, 5).join('; ')}`,
      );
    },

    async probe(): Promise<ServiceHealth> {
      try {
        const res = await fetch(`${base}/api/v1/confluent/subjects`, { signal: AbortSignal.timeout(2000) });
        return res.ok
          ? { healthy: true, version: `hortonworks ${STACK_VERSIONS.hortonworksRegistry}` }
          : { healthy: false, detail: `HTTP ${res.status}` };
      } catch (err) {
        return { healthy: false, detail: (err as Error).message };
      }
    },
  };
}

/**
 * How Hortonworks Schema Registry 0.9.1 (in-memory storage) numbers schemas, as measured: ids start at 1;
 * each new version takes the next id and spends one more (ids go 1, 3, 5...); a registration refused as
 * incompatible (HTTP 409) spends one id; registering a schema a subject already has spends none.
 */
const FIRST_ID = 1;
const ID_STEP_VERSION = 2;
const ID_STEP_REFUSED = 1;
/**
 * A schema every subject refuses under the registry's default compatibility (BACKWARD, which a restart
 * gives every subject back): a reader that requires a field no earlier schema of ours has cannot read their
 * data. Registering it spends one id and adds nothing.
 */
const ID_SPENDER_SCHEMA = JSON.stringify({
  type: 'record',
  name: 'CicloRegistryIdSpender',
  fields: [{ name: 'cicloRegistryIdSpender', type: 'string' }],
});

export type RestoreStep =
  | { readonly kind: 'register'; readonly entry: RegisteredSchema }
  /** A registration the registry refuses, to spend one id as a refused one did in the original run. */
  | { readonly kind: 'refuse'; readonly subject: string };

/**
 * The registrations that give saved schemas (in id order) their ids back on an empty registry: each one in
 * turn, and before it as many refused registrations (against the subject restored last) as ids the
 * original run spent between it and the one before on registrations it refused. A gap before the first
 * schema cannot be spent this way (no subject exists yet): that schema and the ones after come back with
 * other ids, which the restore reports.
 */
export function restorePlan(saved: readonly RegisteredSchema[]): RestoreStep[] {
  const steps: RestoreStep[] = [];
  let nextId = FIRST_ID;
  let lastSubject: string | undefined;
  for (const entry of saved) {
    if (lastSubject !== undefined)
      for (let spent = nextId; spent < entry.id; spent += ID_STEP_REFUSED)
        steps.push({ kind: 'refuse', subject: lastSubject });
    steps.push({ kind: 'register', entry });
    nextId = entry.id + ID_STEP_VERSION;
    lastSubject = entry.subject;
  }
  return steps;
}

export interface RegisteredSchema {
  readonly id: number;
  readonly subject: string;
  readonly version: number;
  readonly schema: string;
}

/** Every version of every subject, with its id, ordered by id (the order the registry assigned them). */
export async function listRegisteredSchemas(confluentBase: string): Promise<RegisteredSchema[]> {
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${confluentBase}${path}`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };
  const out: RegisteredSchema[] = [];
  for (const subject of await get<string[]>('/subjects')) {
    const s = encodeURIComponent(subject);
    for (const version of await get<number[]>(`/subjects/${s}/versions`)) {
      const v = await get<{ id: number; schema: string }>(`/subjects/${s}/versions/${version}`);
      out.push({ id: v.id, subject, version, schema: v.schema });
    }
  }
  return out.sort((a, b) => a.id - b.id || a.subject.localeCompare(b.subject));
}
