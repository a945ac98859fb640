/**
 * ClickHouse server from Debian's package, run with its own config and data folder under the stack home
 * (never the system's /etc or /var/lib). Debian ships 18.16; our SQL is kept portable for it.
 *
 * With `replica`, the server is one member of a single-shard cluster whose members replicate through
 * ZooKeeper (zookeeper-service.ts), each in <home>/clickhouse/replica-<n> on ports of its own. A member
 * killed and started again within ZooKeeper's session timeout (30 s) answers and takes inserts at once,
 * but is not active (it fetches no parts, so it reads stale) until its old session expires: 18.16 logs
 * "Replica ... appears to be already active" every 10 s until then.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CicloError } from '../errors';
import { installDebianPackage } from './prerequisites';
import { startDetached } from './processes';
import type { NativeService, ServiceHealth } from './service';
import { STACK_PORTS, STACK_VERSIONS } from './versions';

const SERVER_BINARIES = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server', '/usr/bin/clickhouse'];

function findServerBinary(): { command: string; args: string[] } | undefined {
  for (const bin of SERVER_BINARIES) {
    if (!fs.existsSync(bin)) continue;
    // The single-binary layout (/usr/bin/clickhouse) takes the tool name as its first argument.
    return bin.endsWith('/clickhouse') ? { command: bin, args: ['server'] } : { command: bin, args: [] };
  }
  return undefined;
}

/** The ports one server binds. The interserver port (replicas fetching parts) is only bound by a replica. */
export interface ClickHousePorts {
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly interserverPort?: number;
}

/** One member of the replicated cluster, as the stack lays it out (shape.ts ClickHouseReplicaPorts). */
export interface ClickHouseReplicaMember {
  /** 1-based; the replica's macro is `r<index>`. */
  readonly index: number;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly interserverPort: number;
}

/** What makes a server one replica of the stack's single-shard cluster. */
export interface ClickHouseReplication {
  /** Which member this server is. */
  readonly index: number;
  /** Every member, this one included: remote_servers lists them all. */
  readonly replicas: readonly ClickHouseReplicaMember[];
  readonly zookeeperPort: number;
  /** The cluster's name in remote_servers, which `ON CLUSTER` and Distributed tables name. */
  readonly cluster: string;
}

export interface ClickHouseServiceOptions {
  /** Default: this replica's ports, or 8123/9000 for the single server. */
  readonly ports?: ClickHousePorts;
  readonly replica?: ClickHouseReplication;
}

/** The single server's ports: the documented 8123 and 9000. */
const SINGLE_SERVER_PORTS: ClickHousePorts = Object.freeze({
  httpPort: STACK_PORTS.clickhouseHttp,
  tcpPort: STACK_PORTS.clickhouseNative,
});

/**
 * The ports a server binds: its replica entry's, unless given; given ports that differ from the entry are
 * refused, since the DDL worker finds itself in remote_servers by its TCP port and would skip every
 * ON CLUSTER query meant for it.
 */
export function clickhousePortsOf(options: ClickHouseServiceOptions): ClickHousePorts {
  const replica = options.replica;
  if (!replica) return options.ports ?? SINGLE_SERVER_PORTS;
  const self = replica.replicas.find((r) => r.index === replica.index);
  if (!self)
    throw new CicloError(
      'CONFIG_INVALID',
      `ClickHouse replica ${replica.index} is not among the cluster's replicas (${replica.replicas.map((r) => r.index).join(', ')})`,
    );
  const ports = options.ports ?? self;
  if (
    ports.httpPort !== self.httpPort ||
    ports.tcpPort !== self.tcpPort ||
    ports.interserverPort !== self.interserverPort
  )
    throw new CicloError(
      'CONFIG_INVALID',
      `ClickHouse replica ${replica.index}: ports ${JSON.stringify(ports)} differ from its cluster entry ${JSON.stringify(self)}`,
    );
  return {
    httpPort: self.httpPort,
    tcpPort: self.tcpPort,
    interserverPort: self.interserverPort,
  };
}

/**
 * config.xml for a server whose files live under `dir`. Keys as ClickHouse 18.16 reads them (its
 * /etc/clickhouse-server/config.xml): the root is <yandex>; a replica adds interserver_http_port and
 * interserver_http_host (what the other replicas fetch parts from, registered in ZooKeeper), <zookeeper>,
 * the <macros> that `{shard}` and `{replica}` in Replicated* engine paths expand to, the cluster in
 * <remote_servers> (one shard, every replica; internal_replication so a Distributed insert writes one
 * replica and replication copies it) and <distributed_ddl>, the ZooKeeper queue ON CLUSTER queries go through.
 */
export function clickhouseConfigXml(options: {
  readonly dir: string;
  readonly ports: ClickHousePorts;
  readonly replica?: ClickHouseReplication;
}): string {
  const { dir, ports, replica } = options;
  return `<?xml version="1.0"?>
<!-- Written by ciclo stack; edits are overwritten at each start. -->
<yandex>
  <logger>
    <level>information</level>
    <log>${dir}/logs/server.log</log>
    <errorlog>${dir}/logs/error.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <http_port>${ports.httpPort}</http_port>
  <tcp_port>${ports.tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <timezone>UTC</timezone>
${replica ? replicationXml(ports, replica) : ''}</yandex>
`;
}

function replicationXml(ports: ClickHousePorts, replica: ClickHouseReplication): string {
  const members = [...replica.replicas]
    .sort((a, b) => a.index - b.index)
    .map((r) => `        <replica><host>127.0.0.1</host><port>${r.tcpPort}</port></replica>`)
    .join('\n');
  return `  <interserver_http_port>${ports.interserverPort}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <zookeeper>
    <node index="1"><host>127.0.0.1</host><port>${replica.zookeeperPort}</port></node>
  </zookeeper>
  <macros>
    <shard>01</shard>
    <replica>r${replica.index}</replica>
  </macros>
  <remote_servers>
    <${replica.cluster}>
      <shard>
        <internal_replication>true</internal_replication>
${members}
      </shard>
    </${replica.cluster}>
  </remote_servers>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
  </distributed_ddl>
`;
}

export function clickhouseService(home: string, options: ClickHouseServiceOptions = {}): NativeService {
  const replica = options.replica;
  const dir = replica
    ? path.join(home, 'clickhouse', `replica-${replica.index}`)
    : path.join(home, 'clickhouse');
  const ports = clickhousePortsOf(options);
  const url = `http://127.0.0.1:${ports.httpPort}`;
  const configXml = clickhouseConfigXml({ dir, ports, ...(replica ? { replica } : {}) });

  const usersXml = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

  return {
    kind: 'clickhouse',
    name: replica ? `clickhouse-${replica.index}` : 'clickhouse',
    address: url,
    ports: [
      ports.httpPort,
      ports.tcpPort,
      ...(replica && ports.interserverPort !== undefined ? [ports.interserverPort] : []),
    ],
    logFile: path.join(dir, 'logs', 'stdout.log'),
    pidFile: path.join(dir, 'clickhouse.pid'),
    startTimeoutMs: 60_000,

    async install(say) {
      if (findServerBinary()) return false;
      say(`installing ${STACK_VERSIONS.clickhouseDebianPackage} from Debian's packages`);
      await installDebianPackage(
        STACK_VERSIONS.clickhouseDebianPackage,
        'or set CLICKHOUSE_URL to a running server',
      );
      if (!findServerBinary())
        throw new CicloError(
          'INSTALL_FAILED',
          'clickhouse-server was installed but its binary was not found',
        );
      return true;
    },

    start() {
      for (const sub of ['data', 'tmp', 'logs', 'user_files', 'format_schemas'])
        fs.mkdirSync(path.join(dir, sub), { recursive: true });
      fs.writeFileSync(path.join(dir, 'config.xml'), configXml);
      fs.writeFileSync(path.join(dir, 'users.xml'), usersXml);
      const bin = findServerBinary();
      if (!bin) throw new CicloError('PREREQUISITE_MISSING', 'ClickHouse server binary not found');
      startDetached({
        command: bin.command,
        args: [...bin.args, `--config-file=${dir}/config.xml`],
        cwd: dir,
        logFile: this.logFile,
        pidFile: this.pidFile,
      });
      return Promise.resolve();
    },

    async probe(): Promise<ServiceHealth> {
      try {
        const res = await fetch(`${url}/?query=${encodeURIComponent('SELECT version()')}`, {
          signal: AbortSignal.timeout(2000),
        });
        if (!res.ok) return { healthy: false, detail: `HTTP ${res.status}` };
        return { healthy: true, version: (await res.text()).trim() };
      } catch (err) {
        return { healthy: false, detail: (err as Error).message };
      }
    },
  };
}
