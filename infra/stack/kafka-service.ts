/**
 * Apache Kafka in KRaft mode, one node or a cluster of nodes that are each broker and controller, assembled from Maven Central jars and run
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
import { replicationFor } from '../../schemas/topics';
import type { NativeService, ServiceHealth } from './service';
import type { KafkaNodePorts } from './shape';
import { STACK_PORTS, STACK_VERSIONS } from './versions';

export interface KafkaServiceOptions {
  readonly port?: number;
  readonly controllerPort?: number;
  /** Where the Kafka jars are (or go); tests that start a broker of their own share the stack's. */
  readonly libsDir?: string;
  /**
   * A member of a cluster in which every node is broker and controller: the controller quorum is every
   * node, so a cluster of three keeps a quorum with one node down.
   */
  readonly cluster?: { readonly nodeId: number; readonly nodes: readonly KafkaNodePorts[] };
}

export interface KafkaNodeConfig {
  readonly nodeId: number;
  readonly port: number;
  readonly controllerPort: number;
  readonly voters: readonly KafkaNodePorts[];
  readonly dataDir: string;
}

/**
 * server.properties of one combined broker+controller node. The internal topics (group offsets,
 * transaction state, share state) are replicated like ciclo's own (schemas/topics.ts replicationFor):
 * three copies and two in sync from three nodes on, so a transaction survives a node's loss.
 */
export function kafkaServerProperties(node: KafkaNodeConfig): string {
  const { replicationFactor, minInsyncReplicas } = replicationFor(node.voters.length);
  const voters = node.voters.map((v) => `${v.nodeId}@127.0.0.1:${v.controllerPort}`).join(',');
  return `# Written by ciclo stack; edits are overwritten at each start.
process.roles=broker,controller
node.id=${node.nodeId}
controller.quorum.voters=${voters}
listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${node.port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${node.dataDir}
auto.create.topics.enable=false
unclean.leader.election.enable=false
num.partitions=1
default.replication.factor=${replicationFactor}
min.insync.replicas=${minInsyncReplicas}
offsets.topic.replication.factor=${replicationFactor}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=${replicationFactor}
transaction.state.log.min.isr=${minInsyncReplicas}
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=${replicationFactor}
share.coordinator.state.topic.min.isr=${minInsyncReplicas}
# Every member is started at once; no point waiting for more before the first rebalance.
group.initial.rebalance.delay.ms=0
log.retention.hours=168
`;
}

export function kafkaService(home: string, options: KafkaServiceOptions = {}): NativeService {
  const cluster = options.cluster;
  const kafkaDir = path.join(home, 'kafka');
  const dir = cluster ? path.join(kafkaDir, `node-${cluster.nodeId}`) : kafkaDir;
  const libs = options.libsDir ?? kafkaLibsDir(home);
  const dataDir = path.join(dir, 'data');
  const self = cluster?.nodes.find((n) => n.nodeId === cluster.nodeId);
  if (cluster && !self) throw new Error(`node ${cluster.nodeId} is not one of the cluster's nodes`);
  const port = self?.port ?? options.port ?? STACK_PORTS.kafka;
  const controllerPort = self?.controllerPort ?? options.controllerPort ?? STACK_PORTS.kafkaController;
  const nodeId = self?.nodeId ?? 1;
  const brokers = [`127.0.0.1:${port}`];
  const serverProperties = kafkaServerProperties({
    nodeId,
    port,
    controllerPort,
    voters: cluster?.nodes ?? [{ nodeId, port, controllerPort }],
    dataDir,
  });
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
    kind: 'kafka',
    name: cluster ? `kafka-${nodeId}` : 'kafka',
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
        const clusterId = cluster ? sharedClusterId(kafkaDir) : newClusterId();
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
          // Three nodes share one machine in the test cluster; one node has it to itself.
          '-Xms256m',
          cluster ? '-Xmx512m' : '-Xmx1g',
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
          // A member is up when the cluster lists it as a broker; the others may still be starting.
          healthy: info.brokerIds.includes(nodeId) && info.controllerId !== null,
          version: STACK_VERSIONS.kafka,
          detail: `cluster ${info.clusterId}`,
        };
      } catch (err) {
        return { healthy: false, detail: (err as Error).message };
      }
    },
  };
}

/** Kafka's own Uuid.randomUuid() never starts with '-': the storage tool would read it as a flag. */
function newClusterId(): string {
  let id: string;
  do id = crypto.randomBytes(16).toString('base64url').slice(0, 22);
  while (id.startsWith('-'));
  return id;
}

/** Every node of a cluster is formatted with the same id, kept beside the nodes' folders. */
function sharedClusterId(kafkaDir: string): string {
  const file = path.join(kafkaDir, 'cluster-id');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(kafkaDir, { recursive: true });
  const id = newClusterId();
  fs.writeFileSync(file, `${id}\n`);
  return id;
}

export function kafkaLibsDir(home: string): string {
  return path.join(home, 'kafka', `libs-${STACK_VERSIONS.kafka}`);
}
