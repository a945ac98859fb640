/**
 * Apache Kafka as one combined broker+controller in KRaft mode, assembled from Maven Central jars and run
 * with `java -cp libs/* kafka.Kafka`. Automatic topic creation is off: ciclo creates its own topics with
 * the partition counts and policies defined in schemas/topics.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describeKafkaCluster } from '../kafka/health';
import { copyDependencies, pomFor } from './maven';
import { requireJava, requireMaven } from './prerequisites';
import { execFileAsync, startDetached } from './processes';
import type { NativeService, ServiceHealth } from './service';
import { STACK_PORTS, STACK_VERSIONS } from './versions';

export interface KafkaServiceOptions {
  readonly port?: number;
  readonly controllerPort?: number;
  /** Where the Kafka jars are (or go); tests that start a broker of their own share the stack's. */
  readonly libsDir?: string;
}

export function kafkaService(home: string, options: KafkaServiceOptions = {}): NativeService {
  const dir = path.join(home, 'kafka');
  const libs = options.libsDir ?? kafkaLibsDir(home);
  const dataDir = path.join(dir, 'data');
  const port = options.port ?? STACK_PORTS.kafka;
  const controllerPort = options.controllerPort ?? STACK_PORTS.kafkaController;
  const brokers = [`127.0.0.1:${port}`];

  const serverProperties = `# Written by ciclo stack; edits are overwritten at each start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${dataDir}
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# One broker: no point waiting for more members before the first rebalance.
group.initial.rebalance.delay.ms=0
log.retention.hours=168
`;
  const log4j = `Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka.log.LogCleaner
        level: WARN
      - name: org.apache.kafka.storage
        level: WARN
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
`;

  return {
    name: 'kafka',
    address: brokers.join(','),
    ports: [port, controllerPort],
    logFile: path.join(dir, 'kafka.log'),
    pidFile: path.join(dir, 'kafka.pid'),
    startTimeoutMs: 90_000,

    async install(say) {
      await requireJava(STACK_VERSIONS.javaMajor);
      if (fs.existsSync(libs)) return false;
      await requireMaven(`Kafka ${STACK_VERSIONS.kafka}`);
      say(`installing Kafka ${STACK_VERSIONS.kafka} from Maven Central`);
      const pom = pomFor('kafka-runtime', [
        { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version: STACK_VERSIONS.kafka },
        // Kafka logs through slf4j 1.7; this binds it to log4j2.
        {
          groupId: 'org.apache.logging.log4j',
          artifactId: 'log4j-slf4j-impl',
          version: STACK_VERSIONS.log4j,
        },
        { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-core', version: STACK_VERSIONS.log4j },
      ]);
      await copyDependencies(path.join(dir, 'maven'), pom, libs);
      return true;
    },

    async start() {
      fs.mkdirSync(dataDir, { recursive: true });
      const propsFile = path.join(dir, 'server.properties');
      const log4jFile = path.join(dir, 'log4j2.yaml');
      fs.writeFileSync(propsFile, serverProperties);
      fs.writeFileSync(log4jFile, log4j);
      const classpath = `${libs}/*`;
      if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
        // Kafka's own Uuid.randomUuid() never starts with '-': the storage tool would read it as a flag.
        let clusterId: string;
        do clusterId = crypto.randomBytes(16).toString('base64url').slice(0, 22);
        while (clusterId.startsWith('-'));
        await execFileAsync('java', [
          '-cp',
          classpath,
          `-Dlog4j2.configurationFile=${log4jFile}`,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          clusterId,
          '-c',
          propsFile,
        ]);
      }
      startDetached({
        command: 'java',
        args: [
          '-Xms256m',
          '-Xmx1g',
          '-XX:+UseG1GC',
          '-Djava.awt.headless=true',
          `-Dlog4j2.configurationFile=${log4jFile}`,
          '-cp',
          classpath,
          'kafka.Kafka',
          propsFile,
        ],
        cwd: dir,
        logFile: this.logFile,
        pidFile: this.pidFile,
      });
    },

    async probe(): Promise<ServiceHealth> {
      try {
        const info = await describeKafkaCluster(brokers, 2000);
        return {
          healthy: info.brokerCount > 0 && info.controllerId !== null,
          version: STACK_VERSIONS.kafka,
          detail: `cluster ${info.clusterId}`,
        };
      } catch (err) {
        return { healthy: false, detail: (err as Error).message };
      }
    },
  };
}

export function kafkaLibsDir(home: string): string {
  return path.join(home, 'kafka', `libs-${STACK_VERSIONS.kafka}`);
}
