/**
 * The Schema Registry for machines without Docker: Hortonworks Schema Registry, a real Apache-2.0 registry
 * whose Confluent-compatible resource (/api/v1/confluent) serves what ciclo and the Confluent serdes use:
 * register under a subject, list subjects and versions, fetch by id, 409 on an incompatible schema.
 *
 * Why not the first choices: Karapace is not published on PyPI at all, and Apicurio Registry 2.x/3.x need
 * module jars (e.g. apicurio-registry-schema-util-provider) that the Maven Central reachable here lacks.
 *
 * Its schemas live in PostgreSQL (postgresql-service.ts) through its JDBC storage, so a registry killed at
 * any moment comes back with every subject, version and id, which the messages in Kafka carry.
 */
import fs from 'node:fs';
import path from 'node:path';
import { copyDependencies, pomFor } from './maven';
import type { PostgresDatabase } from './postgresql-service';
import { requireJava, requireMaven } from './prerequisites';
import { startDetached } from './processes';
import { importLegacySnapshot } from './registry-legacy-snapshot';
import { REGISTRY_DATABASE, REGISTRY_TABLES_SQL } from './registry-tables';
import type { NativeService, ServiceHealth } from './service';
import { STACK_PORTS, STACK_VERSIONS } from './versions';

/** Its parent POMs name extra repositories that cannot be reached here; everything resolves from Central. */
const CENTRAL_ONLY_SETTINGS = `<settings>
  <mirrors>
    <mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>https://repo1.maven.org/maven2</url></mirror>
  </mirrors>
</settings>
`;

export function schemaRegistryService(
  home: string,
  database: PostgresDatabase,
  options: { readonly port?: number; readonly adminPort?: number } = {},
): NativeService {
  const port = options.port ?? STACK_PORTS.schemaRegistry;
  const adminPort = options.adminPort ?? STACK_PORTS.schemaRegistryAdmin;
  const dir = path.join(home, 'registry');
  const libs = path.join(
    dir,
    `libs-${STACK_VERSIONS.hortonworksRegistry}-hikaricp-${STACK_VERSIONS.hikariCp}`,
  );
  const base = `http://127.0.0.1:${port}`;

  const registryYaml = (
    password: string,
  ): string => `# Written by ciclo stack; edits are overwritten at each start.
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
  providerClass: "com.hortonworks.registries.storage.impl.jdbc.JdbcStorageManager"
  properties:
    db.type: "postgresql"
    queryTimeoutInSecs: 30
    db.properties:
      dataSourceClassName: "org.postgresql.ds.PGSimpleDataSource"
      dataSource.url: "jdbc:postgresql://127.0.0.1:${database.port}/${REGISTRY_DATABASE}"
      dataSource.user: "${database.user}"
      dataSource.password: "${password}"
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
      port: ${port}
  adminConnectors:
    - type: http
      bindHost: 127.0.0.1
      port: ${adminPort}
logging:
  level: WARN
`;

  return {
    kind: 'schema-registry',
    name: 'schema-registry',
    address: `${base}/api/v1/confluent`,
    ports: [port, adminPort],
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
          exclusions: [{ groupId: 'com.zaxxer', artifactId: 'HikariCP-java6' }],
        },
        {
          groupId: 'com.zaxxer',
          artifactId: 'HikariCP',
          version: STACK_VERSIONS.hikariCp,
          // The registry's logging (logback 1.2 via Dropwizard) binds slf4j 1.7; HikariCP's newer API would win.
          exclusions: [{ groupId: 'org.slf4j', artifactId: 'slf4j-api' }],
        },
      ]);
      await copyDependencies(workDir, pom, libs, ['-s', settings]);
      for (const stale of fs
        .readdirSync(dir)
        .filter((f) => f.startsWith('libs-') && f !== path.basename(libs)))
        fs.rmSync(path.join(dir, stale), { recursive: true, force: true });
      return true;
    },

    async start() {
      await database.ensureDatabase(REGISTRY_DATABASE, REGISTRY_TABLES_SQL);
      fs.mkdirSync(path.join(dir, 'files'), { recursive: true });
      const config = path.join(dir, 'registry.yaml');
      fs.writeFileSync(config, registryYaml(database.password()), { mode: 0o600 });
      fs.chmodSync(config, 0o600); // it holds the database password
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
    },

    async afterStart(say) {
      await importLegacySnapshot(dir, `${base}/api/v1/confluent`, database, say);
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
