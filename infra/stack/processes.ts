/**
 * Supervision of the native services' OS processes: start detached with output to a log file, remember the
 * pid, stop the whole process group (TERM, then KILL) so `stack down` leaves nothing behind.
 */
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { CicloError } from '../errors';

export const execFileAsync = promisify(execFile);

export function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function startDetached(options: {
  command: string;
  args: readonly string[];
  cwd: string;
  logFile: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  /** Runs the process as this user (when ciclo runs as root and the service refuses root). */
  user?: SystemUser;
}): number {
  const out = fs.openSync(options.logFile, 'a');
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    detached: true, // own process group: `stop` signals the group, children included
    stdio: ['ignore', out, out],
    env: options.env ?? process.env,
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  fs.closeSync(out);
  if (child.pid === undefined) {
    throw new CicloError('SERVICE_UNHEALTHY', `could not start ${options.command}`);
  }
  child.unref();
  fs.writeFileSync(options.pidFile, `${child.pid}\n`);
  return child.pid;
}

export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** A system account by name (e.g. the `postgres` user Debian's package creates), or undefined. */
export async function systemUser(name: string): Promise<SystemUser | undefined> {
  try {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map(async (flag) => Number((await execFileAsync('id', [flag, name])).stdout.trim())),
    );
    return uid !== undefined && gid !== undefined ? { name, uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return isAlive(pid);
  }
}

/** Stops the process group recorded in pidFile; resolves when no process of it is left. */
export async function stopProcessGroup(pidFile: string, graceMs = 20_000): Promise<boolean> {
  const pid = readPid(pidFile);
  if (pid === undefined) return false;
  if (!groupAlive(pid)) {
    fs.rmSync(pidFile, { force: true });
    return false;
  }
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && groupAlive(pid)) await sleep(200);
  if (groupAlive(pid)) {
    signalGroup(pid, 'SIGKILL');
    while (groupAlive(pid)) await sleep(100);
  }
  fs.rmSync(pidFile, { force: true });
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.once('listening', () => server.close(() => resolve(true)));
    server.listen(port, host);
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; isDead?: () => boolean },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const result = await probe();
      if (result !== undefined) return result;
    } catch (err) {
      lastError = err;
    }
    if (options.isDead?.()) break;
    await sleep(options.intervalMs ?? 500);
  }
  throw new CicloError(
    'SERVICE_UNHEALTHY',
    `${what} did not become healthy in ${options.timeoutMs / 1000}s`,
    {
      cause: lastError,
    },
  );
}

export function tailFile(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}

/** A port that was free a moment ago on the host (the OS picks it); for tests and benchmarks. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
