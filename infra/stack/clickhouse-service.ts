/**
 * ClickHouse server from Debian's package, run with its own config and data folder under the stack home
 * (never the system's /etc or /var/lib). Debian ships 18.16; our SQL is kept portable for it.
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

export function clickhouseService(home: string): NativeService {
  const dir = path.join(home, 'clickhouse');
  const url = `http://127.0.0.1:${STACK_PORTS.clickhouseHttp}`;

  const configXml = `<?xml version="1.0"?>
<!-- Written by ciclo stack; edits are overwritten at each start. -->
<yandex>
  <logger>
    <level>information</level>
    <log>${dir}/logs/server.log</log>
    <errorlog>${dir}/logs/error.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <http_port>${STACK_PORTS.clickhouseHttp}</http_port>
  <tcp_port>${STACK_PORTS.clickhouseNative}</tcp_port>
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
</yandex>
`;
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
    name: 'clickhouse',
    address: url,
    ports: [STACK_PORTS.clickhouseHttp, STACK_PORTS.clickhouseNative],
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
