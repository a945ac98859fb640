import path from 'node:path';
import { CicloError } from '../errors';
import { clickhouseConfigXml, clickhousePortsOf, clickhouseService } from './clickhouse-service';

const replicas = [
  { index: 1, httpPort: 8123, tcpPort: 9000, interserverPort: 9009 },
  { index: 2, httpPort: 8124, tcpPort: 9001, interserverPort: 9010 },
];
const replication = (index: number) => ({ index, replicas, zookeeperPort: 2181, cluster: 'ciclo' });

/** The text of every element with this tag, in order. */
const valuesOf = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]!);

describe('ClickHouse config.xml', () => {
  it('for the single server, is the config the stack has always written', () => {
    const xml = clickhouseConfigXml({ dir: '/h/clickhouse', ports: { httpPort: 8123, tcpPort: 9000 } });
    expect(xml).toBe(`<?xml version="1.0"?>
<!-- Written by ciclo stack; edits are overwritten at each start. -->
<yandex>
  <logger>
    <level>information</level>
    <log>/h/clickhouse/logs/server.log</log>
    <errorlog>/h/clickhouse/logs/error.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <http_port>8123</http_port>
  <tcp_port>9000</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>/h/clickhouse/data/</path>
  <tmp_path>/h/clickhouse/tmp/</tmp_path>
  <user_files_path>/h/clickhouse/user_files/</user_files_path>
  <format_schema_path>/h/clickhouse/format_schemas/</format_schema_path>
  <users_config>/h/clickhouse/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <timezone>UTC</timezone>
</yandex>
`);
  });

  it('for replica 2, adds its interserver port, ZooKeeper, its macros, the cluster and the DDL queue', () => {
    const xml = clickhouseConfigXml({
      dir: '/h/clickhouse/replica-2',
      ports: clickhousePortsOf({ replica: replication(2) }),
      replica: replication(2),
    });
    expect(valuesOf(xml, 'http_port')).toEqual(['8124']);
    expect(valuesOf(xml, 'tcp_port')).toEqual(['9001']);
    expect(valuesOf(xml, 'path')).toEqual(['/h/clickhouse/replica-2/data/', '/clickhouse/task_queue/ddl']);
    expect(xml).toContain(`  <interserver_http_port>9010</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <zookeeper>
    <node index="1"><host>127.0.0.1</host><port>2181</port></node>
  </zookeeper>
  <macros>
    <shard>01</shard>
    <replica>r2</replica>
  </macros>
  <remote_servers>
    <ciclo>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>9000</port></replica>
        <replica><host>127.0.0.1</host><port>9001</port></replica>
      </shard>
    </ciclo>
  </remote_servers>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
  </distributed_ddl>
</yandex>
`);
  });

  it('names the cluster as asked and lists the replicas by index whatever their order', () => {
    const xml = clickhouseConfigXml({
      dir: '/d',
      ports: replicas[0]!,
      replica: { ...replication(1), replicas: [...replicas].reverse(), cluster: 'analytics' },
    });
    expect(xml).toMatch(/<remote_servers>\s*<analytics>[\s\S]*<\/analytics>\s*<\/remote_servers>/);
    expect(valuesOf(xml, 'port').slice(1)).toEqual(['9000', '9001']); // after ZooKeeper's
  });
});

describe('clickhousePortsOf', () => {
  it("takes the replica's ports from its cluster entry, and 8123/9000 for the single server", () => {
    expect(clickhousePortsOf({ replica: replication(2) })).toEqual({
      httpPort: 8124,
      tcpPort: 9001,
      interserverPort: 9010,
    });
    expect(clickhousePortsOf({})).toEqual({ httpPort: 8123, tcpPort: 9000 });
    expect(clickhousePortsOf({ ports: { httpPort: 18123, tcpPort: 19000 } })).toEqual({
      httpPort: 18123,
      tcpPort: 19000,
    });
  });

  it('refuses a replica missing from the cluster, or ports that differ from its entry', () => {
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof CicloError ? err.code : 'not a CicloError';
      }
      return undefined;
    };
    expect(codeOf(() => clickhousePortsOf({ replica: replication(3) }))).toBe('CONFIG_INVALID');
    expect(
      codeOf(() => clickhousePortsOf({ ports: { ...replicas[0]!, tcpPort: 9100 }, replica: replication(1) })),
    ).toBe('CONFIG_INVALID');
  });
});

describe('clickhouseService', () => {
  it('without options is the single server as before: named clickhouse, in <home>/clickhouse', () => {
    const service = clickhouseService('/h');
    expect(service).toMatchObject({
      kind: 'clickhouse',
      name: 'clickhouse',
      address: 'http://127.0.0.1:8123',
      ports: [8123, 9000],
      pidFile: path.join('/h', 'clickhouse', 'clickhouse.pid'),
      logFile: path.join('/h', 'clickhouse', 'logs', 'stdout.log'),
    });
  });

  it('as replica 2 is clickhouse-2, in a folder of its own, binding its three ports', () => {
    const service = clickhouseService('/h', { ports: replicas[1]!, replica: replication(2) });
    expect(service).toMatchObject({
      kind: 'clickhouse',
      name: 'clickhouse-2',
      address: 'http://127.0.0.1:8124',
      ports: [8124, 9001, 9010],
      pidFile: path.join('/h', 'clickhouse', 'replica-2', 'clickhouse.pid'),
    });
  });
});
