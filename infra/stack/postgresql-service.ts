/**
 * PostgreSQL from Debian's package, where the native Schema Registry keeps its schemas: its own cluster
 * (data folder under the stack home, its own port on loopback, no Unix socket), never the system's.
 *
 * PostgreSQL refuses to run as root, so when ciclo runs as root the server runs as the `postgres` account
 * the Debian package creates, which then owns the data folder. Clients authenticate with a password
 * generated at the cluster's creation and kept beside it (mode 600): the port is on loopback, but other
 * local users should not read the registry's tables.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CicloError } from '../errors';
import { installDebianPackage } from './prerequisites';
import { execFileAsync, startDetached, systemUser, type SystemUser } from './processes';
import type { NativeService, ServiceHealth } from './service';
import { STACK_PORTS, STACK_VERSIONS } from './versions';

const SUPERUSER = 'ciclo';
const DEBIAN_BIN_ROOT = '/usr/lib/postgresql';

/** What the services that keep data in this server need from it. */
export interface PostgresDatabase {
  readonly port: number;
  readonly user: string;
  password(): string;
  /** Creates the database when it does not exist, then runs `sql` in it (idempotent statements only). */
  ensureDatabase(database: string, sql: string): Promise<void>;
  /** Runs one statement and returns psql's unaligned output. */
  query(database: string, sql: string): Promise<string>;
}

export function postgresqlService(
  home: string,
  options: { readonly port?: number } = {},
): NativeService & PostgresDatabase {
  const dir = path.join(home, 'postgresql');
  const dataDir = path.join(dir, 'data');
  const passwordFile = path.join(dir, 'password');
  const port = options.port ?? STACK_PORTS.postgresql;
  let runAs: SystemUser | undefined;

  const password = (): string => {
    try {
      return fs.readFileSync(passwordFile, 'utf8').trim();
    } catch {
      throw new CicloError(
        'SERVICE_UNHEALTHY',
        `PostgreSQL's password file ${passwordFile} is missing: run \`ciclo stack up\``,
      );
    }
  };

  const psql = async (database: string, args: readonly string[]): Promise<string> => {
    const bin = findBinDir();
    if (!bin) throw new CicloError('PREREQUISITE_MISSING', 'psql not found: run `ciclo stack up`');
    const { stdout } = await execFileAsync(
      path.join(bin, 'psql'),
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        SUPERUSER,
        '-d',
        database,
        '-v',
        'ON_ERROR_STOP=1',
        ...args,
      ],
      { env: { ...process.env, PGPASSWORD: password(), PGCONNECT_TIMEOUT: '3' }, maxBuffer: 16 << 20 },
    ).catch((err: unknown) => {
      throw new CicloError('SERVICE_UNHEALTHY', `PostgreSQL (${database}): ${stderrOf(err)}`, {
        cause: err,
      });
    });
    return stdout;
  };
  const query = (database: string, sql: string): Promise<string> => psql(database, ['-tA', '-c', sql]);

  return {
    kind: 'postgresql',
    name: 'postgresql',
    address: `postgresql://${SUPERUSER}@127.0.0.1:${port}`,
    ports: [port],
    logFile: path.join(dir, 'postgresql.log'),
    pidFile: path.join(dir, 'postgresql.pid'),
    startTimeoutMs: 30_000,
    port,
    user: SUPERUSER,
    password,
    query,

    async install(say) {
      if (findBinDir()) return false;
      say(`installing ${STACK_VERSIONS.postgresqlDebianPackage} from Debian's packages`);
      await installDebianPackage(
        STACK_VERSIONS.postgresqlDebianPackage,
        'or set SCHEMA_REGISTRY_URL to a running registry',
      );
      if (!findBinDir())
        throw new CicloError(
          'INSTALL_FAILED',
          `PostgreSQL was installed but not found in ${DEBIAN_BIN_ROOT}`,
        );
      return true;
    },

    async start(say) {
      const bin = findBinDir();
      if (!bin) throw new CicloError('PREREQUISITE_MISSING', 'PostgreSQL binaries not found');
      runAs = await serverUser();
      fs.mkdirSync(dir, { recursive: true });
      if (runAs) reachableBy(runAs, dir, say);
      if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await initCluster(bin, runAs);
      startDetached({
        command: path.join(bin, 'postgres'),
        args: [
          '-D',
          dataDir,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `port=${port}`,
          '-c',
          'unix_socket_directories=',
          '-c',
          'shared_buffers=64MB',
        ],
        cwd: dir,
        logFile: this.logFile,
        pidFile: this.pidFile,
        ...(runAs ? { user: runAs } : {}),
      });
    },

    async stop() {
      const bin = findBinDir();
      if (!bin || !fs.existsSync(path.join(dataDir, 'postmaster.pid'))) return;
      // A fast shutdown: sessions are ended and the cluster checkpoints; the default (smart) one would wait
      // for every client to leave.
      await execFileAsync(path.join(bin, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'], {
        ...(runAs ?? (await serverUser()) ?? {}),
      }).catch(() => undefined);
    },

    async probe(): Promise<ServiceHealth> {
      if (!fs.existsSync(passwordFile)) return { healthy: false, detail: 'not initialised' };
      try {
        const version = (await query('postgres', 'SHOW server_version')).trim();
        return { healthy: true, version: `postgresql ${version}` };
      } catch (err) {
        return { healthy: false, detail: (err as Error).message };
      }
    },

    async ensureDatabase(database, sql) {
      const exists = await query('postgres', `SELECT 1 FROM pg_database WHERE datname = '${database}'`);
      if (exists.trim() !== '1') await query('postgres', `CREATE DATABASE ${database}`);
      await psql(database, ['-q', '-c', sql]);
    },
  };

  async function initCluster(bin: string, user: SystemUser | undefined): Promise<void> {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const secret = crypto.randomBytes(24).toString('base64url');
    fs.writeFileSync(passwordFile, `${secret}\n`, { mode: 0o600 });
    // initdb reads the superuser's password from a file it can open as the server's user.
    const initPassword = path.join(dataDir, '..', 'initdb-password');
    fs.writeFileSync(initPassword, `${secret}\n`, { mode: 0o600 });
    if (user) {
      fs.chownSync(dataDir, user.uid, user.gid);
      fs.chownSync(initPassword, user.uid, user.gid);
    }
    try {
      await execFileAsync(
        path.join(bin, 'initdb'),
        [
          '-D',
          dataDir,
          '-U',
          SUPERUSER,
          `--pwfile=${initPassword}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--no-locale',
        ],
        { ...(user ?? {}), maxBuffer: 16 << 20 },
      );
    } catch (err) {
      fs.rmSync(passwordFile, { force: true });
      throw new CicloError('INSTALL_FAILED', `initdb could not create ${dataDir}: ${stderrOf(err)}`, {
        cause: err,
      });
    } finally {
      fs.rmSync(initPassword, { force: true });
    }
  }
}

/** The newest Debian PostgreSQL whose server binaries are installed. */
function findBinDir(): string | undefined {
  let versions: string[];
  try {
    versions = fs.readdirSync(DEBIAN_BIN_ROOT);
  } catch {
    return undefined;
  }
  return versions
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => path.join(DEBIAN_BIN_ROOT, v, 'bin'))
    .find((bin) => ['initdb', 'postgres', 'pg_ctl', 'psql'].every((t) => fs.existsSync(path.join(bin, t))));
}

/** Root cannot run PostgreSQL; anyone else runs it as themselves. */
async function serverUser(): Promise<SystemUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const user = await systemUser('postgres');
  if (!user)
    throw new CicloError(
      'PREREQUISITE_MISSING',
      "PostgreSQL refuses to run as root and there is no `postgres` account: install Debian's postgresql package (it creates the account) or run ciclo as another user",
    );
  return user;
}

/**
 * The server's user must be able to reach its data folder: every folder above it needs search permission
 * for that user. Grants only that (o+x: enter, not list) on the folders that lack it, and says which.
 */
function reachableBy(user: SystemUser, dir: string, say: (line: string) => void): void {
  fs.chownSync(dir, user.uid, user.gid);
  const granted: string[] = [];
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    const searchable =
      st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!searchable) {
      fs.chmodSync(d, st.mode | 0o001);
      granted.push(d);
    }
    if (d === path.dirname(d)) break;
  }
  if (granted.length > 0)
    say(
      `postgresql: gave other users search permission (o+x) on ${granted.join(', ')} so the ${user.name} account can reach ${dir}`,
    );
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim().slice(-400);
}
