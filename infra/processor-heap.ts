/**
 * How the lifecycle processor's young generation is set, by Node version. Its heap is large (every
 * customer's state), so each full collection of it costs about a second of CPU. On Node 20 its batches live
 * from fetch to commit, so with V8's default young generation (16 MiB semi-spaces) a third of what it
 * allocates survives a scavenge or two and is copied: scavenges took 6.9 s of pauses plus 9.7 s on V8's
 * helper threads in a run of 1M touchpoints (bench/processor-peer.ts, --trace-gc-nvp), and 48 MiB
 * semi-spaces cut the CPU per touchpoint by about a tenth (bench/RESULTS.md). Node sets the young
 * generation only at start-up (--max-semi-space-size; v8.setFlagsFromString is too late), and a command
 * started by `npx ciclo` or `node bin/ciclo.js` has no say in its flags, so the command runs in a worker
 * thread, whose isolate takes its limits from `resourceLimits`: same process (pid, signals, SIGKILL), one
 * more idle thread. On Node 24 its full collections had another cause: infra/external-memory.ts.
 */
import v8 from 'node:v8';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

/** Young generation of the processor's isolate: what --max-semi-space-size=64 gives (two semi-spaces and a third for large objects). */
export const PROCESSOR_YOUNG_GENERATION_MB = 192;

const RELAYED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * The Node major versions on which the larger young generation was measured to help. On Node 24 the same
 * run took 92.8 µs per touchpoint with it and 88.1 without (V8 13's heuristics differ; kafkajs's Buffers
 * drive its full collections there, see bench/RESULTS.md), and on Node 22 63.7 and 68.7 with it, 62.4 and
 * 64.2 without, so there it runs as Node sets it.
 */
const HELPED_NODE_MAJORS: readonly number[] = [20];

/**
 * Whether to start a worker thread: in the main thread of a Node it helps, unless
 * CICLO_YOUNG_GENERATION=default or the user set the semi-space size (NODE_OPTIONS or node's own flags),
 * which then stands as given.
 */
export function wantsRoomyIsolate(
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[],
  mainThread = isMainThread,
  nodeMajor = Number(process.versions.node.split('.')[0]),
): boolean {
  if (!mainThread || env.CICLO_YOUNG_GENERATION === 'default') return false;
  if (!HELPED_NODE_MAJORS.includes(nodeMajor) && env.CICLO_YOUNG_GENERATION !== 'large') return false;
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  return !given.some((flag) => /^--max[-_]semi[-_]space[-_]size/.test(flag));
}

/**
 * Runs `file` with `args` in a worker thread with a young generation of `youngMb` and the main thread's
 * old-generation limit (so --max-old-space-size still counts), relays SIGINT and SIGTERM to it (see
 * `relaySignals`), and exits with its exit code. An uncaught error in it ends the process with code 1.
 */
function runInRoomyIsolate(file: string, args: readonly string[], youngMb: number): void {
  const worker = new Worker(file, {
    argv: [...args],
    resourceLimits: {
      maxYoungGenerationSizeMb: youngMb,
      maxOldGenerationSizeMb: Math.floor(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
    },
  });
  for (const signal of RELAYED_SIGNALS) process.on(signal, () => worker.postMessage({ signal }));
  worker.on('error', (err) => {
    process.stderr.write(`${err.stack ?? String(err)}\n`);
    process.exit(1);
  });
  worker.on('exit', (code) => process.exit(code));
}

/**
 * Starts the processor (or a bench worker on its runner) with the young generation of this Node
 * (`wantsRoomyIsolate`): either this thread hands `file` with `args` to a worker thread with the larger young
 * generation and only waits for it, or `run` starts the processor here (in that worker thread too, where
 * signals are then relayed). Every ciclo process counts Buffers in its heap's limit on Node 24 as well
 * (infra/external-memory.ts).
 */
export function startWithProcessorHeap(file: string, args: readonly string[], run: () => void): void {
  if (wantsRoomyIsolate(process.env, process.execArgv))
    runInRoomyIsolate(file, args, PROCESSOR_YOUNG_GENERATION_MB);
  else {
    relaySignals();
    run();
  }
}

/**
 * In the worker thread: signals reach only the main thread, which posts them here; they are emitted on
 * this thread's `process`, so `process.once('SIGTERM', ...)` works as in a main thread.
 */
function relaySignals(): void {
  if (parentPort === null) return;
  parentPort.on('message', (message: unknown) => {
    const signal = (message as { signal?: unknown } | null)?.signal;
    if (RELAYED_SIGNALS.includes(signal as (typeof RELAYED_SIGNALS)[number]))
      process.emit(signal as NodeJS.Signals, signal as NodeJS.Signals);
  });
  parentPort.unref(); // listening keeps no thread alive that has nothing else to do
}
