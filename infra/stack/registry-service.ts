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
