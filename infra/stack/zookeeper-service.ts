/**
 * Apache ZooKeeper, standalone, for replicated ClickHouse only: the replicas keep their replication log,
 * parts lists and the ON CLUSTER DDL queue in it. Assembled from Maven Central jars like Kafka and run with
 * `java -cp libs/* org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg`. It listens on 127.0.0.1 only;
 * its health is the four-letter word `srvr` (version and mode), the only admin interface it opens.
 *
 * Why 3.8 and not 3.9: ZooKeeper 3.9 answers the connect handshake with one byte more (the read-only flag),
 * and ClickHouse's own ZooKeeper client, 18.16's included, expects exactly 36 bytes ("Unexpected handshake
 * length received: 37", ClickHouse issues #53749 and #68695). 3.8 is the newest line it speaks to.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { copyDependencies, pomFor } from './maven';
import { requireJava, requireMaven } from './prerequisites';
import { startDetached } from './processes';
import type { NativeService, ServiceHealth } from './service';
import { STACK_PORTS, STACK_VERSIONS } from './versions';

/** What ZooKeeper 3.8 is built against (its parent POM's dropwizard.version and snappy.version). */
const DROPWIZARD_METRICS = '4.1.12.1';
const SNAPPY_JAVA = '1.1.10.5';

export interface ZooKeeperServiceOptions {
  readonly port?: number;
  /** Where the ZooKeeper jars are (or go); a test cluster beside the stack shares the stack's. */
  readonly libsDir?: string;
}

/** The standalone server's config: one node, its data under `dataDir`, clients on 127.0.0.1 only. */
export function zooCfg(options: { readonly port: number; readonly dataDir: string }): string {
  return `# Written by ciclo stack; edits are overwritten at each start.
tickTime=2000
# Sessions may last from 2 to 20 ticks; ClickHouse asks for 30 s and gets 30 s.
minSessionTimeout=4000
maxSessionTimeout=40000
dataDir=${options.dataDir}
clientPort=${options.port}
clientPortAddress=127.0.0.1
maxClientCnxns=0
# No Jetty admin server on 8080: it would take a port the stack does not announce.
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr
# Keep the last 3 snapshots and their logs; purge every hour.
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
`;
}

const LOGBACK_XML = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by ciclo stack. Without it logback logs at DEBUG. Parentheses in a pattern are groups. -->
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>[%d] %p %m [%c{0}]%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
`;

export function zookeeperService(home: string, options: ZooKeeperServiceOptions = {}): NativeService {
  const dir = path.join(home, 'zookeeper');
  const libs = options.libsDir ?? zookeeperLibsDir(home);
  const dataDir = path.join(dir, 'data');
  const port = options.port ?? STACK_PORTS.zookeeper;

  return {
    kind: 'zookeeper',
    name: 'zookeeper',
    address: `127.0.0.1:${port}`,
    ports: [port],
    logFile: path.join(dir, 'zookeeper.log'),
    pidFile: path.join(dir, 'zookeeper.pid'),
    startTimeoutMs: 60_000,

    async install(say) {
      await requireJava(STACK_VERSIONS.javaMajor);
      if (fs.existsSync(libs)) return false;
      await requireMaven(`ZooKeeper ${STACK_VERSIONS.zookeeper}`);
      say(`installing ZooKeeper ${STACK_VERSIONS.zookeeper} from Maven Central`);
      // zookeeper's POM brings logback-classic at runtime, so it logs without a binding of ours. metrics-core
      // and snappy-java it marks `provided` (its release tarball ships them), yet the server dies without
      // them (NoClassDefFoundError at start, then at the first snapshot).
      const pom = pomFor('zookeeper-runtime', [
        { groupId: 'org.apache.zookeeper', artifactId: 'zookeeper', version: STACK_VERSIONS.zookeeper },
        { groupId: 'io.dropwizard.metrics', artifactId: 'metrics-core', version: DROPWIZARD_METRICS },
        { groupId: 'org.xerial.snappy', artifactId: 'snappy-java', version: SNAPPY_JAVA },
      ]);
      await copyDependencies(path.join(dir, 'maven'), pom, libs);
      return true;
    },

    start() {
      fs.mkdirSync(dataDir, { recursive: true });
      const cfgFile = path.join(dir, 'zoo.cfg');
      const logbackFile = path.join(dir, 'logback.xml');
      fs.writeFileSync(cfgFile, zooCfg({ port, dataDir }));
      fs.writeFileSync(logbackFile, LOGBACK_XML);
      startDetached({
        command: 'java',
        args: [
          '-Xms64m',
          '-Xmx256m',
          '-Djava.awt.headless=true',
          `-Dlogback.configurationFile=${logbackFile}`,
          '-cp',
          `${libs}/*`,
          'org.apache.zookeeper.server.ZooKeeperServerMain',
          cfgFile,
        ],
        cwd: dir,
        logFile: this.logFile,
        pidFile: this.pidFile,
      });
      return Promise.resolve();
    },

    async probe(): Promise<ServiceHealth> {
      try {
        return healthFromSrvr(await fourLetterWord(port, 'srvr', 2000));
      } catch (err) {
        return { healthy: false, detail: (err as Error).message };
      }
    },
  };
}

export function zookeeperLibsDir(home: string): string {
  return path.join(home, 'zookeeper', `libs-${STACK_VERSIONS.zookeeper}`);
}

/**
 * Reads the answer to `srvr`: healthy when the server serves (it then names its version and mode); a
 * server still loading its snapshot answers "This ZooKeeper instance is not currently serving requests".
 */
export function healthFromSrvr(answer: string): ServiceHealth {
  const version = /^Zookeeper version: ([^\s,-]+)/m.exec(answer)?.[1];
  const mode = /^Mode: (\S+)/m.exec(answer)?.[1];
  if (version === undefined || mode === undefined)
    return { healthy: false, detail: answer.trim().split('\n')[0] || 'no answer to srvr' };
  const nodes = /^Node count: (\d+)/m.exec(answer)?.[1];
  return {
    healthy: true,
    version,
    detail: nodes === undefined ? mode : `${mode}, ${nodes} znodes`,
  };
}

/** Sends a four-letter word and returns everything the server says before it closes the connection. */
export function fourLetterWord(port: number, word: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to ${word} in ${timeoutMs} ms`)));
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}
