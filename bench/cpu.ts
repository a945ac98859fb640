/**
 * CPU time per process on this machine, from /proc (Linux only; elsewhere nothing), to say where the CPU of
 * a pipeline run went. results.json keeps the e2e run's CPU per touchpoint (all processes, and each) and the
 * collector's CPU per event: unlike the rates, they do not depend on what else the machine was doing, and
 * unlike the ratios, not on how fast the baseline is. `CICLO_BENCH_CPU=1` also prints them for every run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Clock ticks per second of /proc's utime and stime: 100 on every Linux that Node supports. */
const TICKS_PER_SECOND = 100;

export type CpuSnapshot = ReadonlyMap<number, { readonly name: string; readonly seconds: number }>;

/** What a process is, from its command line: the stack's services, the bench's workers, this process. */
function nameOf(pid: number, cmdline: string): string {
  if (pid === process.pid) return 'bench (load generator, polling)';
  // Workers first: their command line holds the endpoints, which name the services.
  const worker = /worker\.js (\w+)/.exec(cmdline);
  if (worker) return worker[1]!;
  if (/kafka\.Kafka|kafka-server|kafka_2/.test(cmdline)) return 'kafka broker';
  if (/clickhouse-server/.test(cmdline)) return 'clickhouse';
  if (/registr|karapace/i.test(cmdline)) return 'schema registry';
  return cmdline.slice(0, 60);
}

/** CPU seconds (user and system, every thread) a process has used; throws once it has ended. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is 3rd, utime 14th, stime 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export function cpuSnapshot(): CpuSnapshot {
  const out = new Map<number, { name: string; seconds: number }>();
  if (os.platform() !== 'linux') return out;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const seconds = cpuSecondsOf(pid);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmdline === '') continue; // kernel threads
      out.set(pid, { name: nameOf(pid, cmdline), seconds });
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

/** CPU seconds of each process (by name) that was busy between the two snapshots. */
export function cpuSecondsByProcess(before: CpuSnapshot, after: CpuSnapshot): Map<string, number> {
  const rows = new Map<string, number>();
  for (const [pid, { name, seconds }] of after) {
    const used = seconds - (before.get(pid)?.seconds ?? 0);
    if (used > 0.05) rows.set(name, (rows.get(name) ?? 0) + used);
  }
  return rows;
}

/** CPU µs per event of each process busy between the two snapshots, and 'total' for all of them. */
export function cpuMicrosPerEvent(
  before: CpuSnapshot,
  after: CpuSnapshot,
  events: number,
): Map<string, number> {
  const out = new Map<string, number>();
  let total = 0;
  for (const [name, seconds] of cpuSecondsByProcess(before, after)) {
    out.set(name, (seconds * 1e6) / events);
    total += seconds;
  }
  out.set('total', (total * 1e6) / events);
  return out;
}

/** CPU µs per event of each process busy between the two snapshots, busiest first, and their total. */
export function cpuPerEvent(before: CpuSnapshot, after: CpuSnapshot, events: number): string {
  const sorted = [...cpuSecondsByProcess(before, after)].sort((a, b) => b[1] - a[1]);
  const total = sorted.reduce((sum, [, s]) => sum + s, 0);
  const line = (name: string, seconds: number): string =>
    `  ${name.padEnd(34)} ${seconds.toFixed(2).padStart(6)} s  ${Math.round((seconds * 1e6) / events)
      .toString()
      .padStart(4)} µs/event`;
  return [...sorted.map(([n, s]) => line(n, s)), line('total', total)].join('\n');
}
