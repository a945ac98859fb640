/**
 * On Node 24 (V8 13.6), every ciclo process counts the memory of its Buffers in its heap's growing limit.
 * With V8's default, every 64 MiB of Buffers allocated and dropped (the Kafka client's fetched responses and
 * produce requests) starts a full marking of the whole heap ("external memory pressure" in
 * --trace-incremental-marking). Measured with `--external-memory-accounted-in-global-limit`, which makes V8
 * count that memory in the heap's own limit instead (bench/RESULTS.md):
 * - the processor: 109 of 112 markings in a run of 1M touchpoints had been started so, each about 1.4 s of
 *   concurrent marking; with the flag, 10 full collections, and 58 to 69 µs of CPU per touchpoint instead of
 *   143 to 165, at the cost of a higher peak RSS (1.0 to 1.7-2.0 GB);
 * - kafkajs producing alone (the collector's, the importer's and the bench's raw baseline's path): 1.7 to 2.1
 *   µs of CPU per record instead of 5.7 to 8.2, 17 full collections down to 2, peak RSS 361 to 392 MB;
 * - the collector: 38 and 40 µs of CPU per event instead of 42 and 43.
 * V8 reads the flag at each limit check, so it can be set once the process runs (v8.setFlagsFromString), in
 * the main thread. Node 20 and 22 (V8 11 and 12) do not know it.
 */
import v8 from 'node:v8';

/** The V8 flag that counts Buffers' memory in the heap's growing limit (V8 13; unknown to Node 20 and 22). */
export const EXTERNAL_MEMORY_FLAG = '--external-memory-accounted-in-global-limit';

/** The Node major versions on which counting external memory in the heap's limit was measured to help. */
const EXTERNAL_MEMORY_NODE_MAJORS: readonly number[] = [24];

/**
 * Whether to set EXTERNAL_MEMORY_FLAG: on a Node it helps, unless CICLO_EXTERNAL_MEMORY=default or the
 * flag was given already.
 */
export function wantsExternalMemoryInHeapLimit(
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[],
  nodeMajor = Number(process.versions.node.split('.')[0]),
): boolean {
  if (env.CICLO_EXTERNAL_MEMORY === 'default' || !EXTERNAL_MEMORY_NODE_MAJORS.includes(nodeMajor))
    return false;
  // Given either way (`--no-...` too), it stands as given.
  return !execArgv.some((flag) =>
    flag
      .replace(/_/g, '-')
      .replace(/^--no-/, '--')
      .startsWith(EXTERNAL_MEMORY_FLAG),
  );
}

/** Sets EXTERNAL_MEMORY_FLAG for this process when `wantsExternalMemoryInHeapLimit`. */
export function countExternalMemoryInHeapLimit(env = process.env, execArgv = process.execArgv): void {
  if (wantsExternalMemoryInHeapLimit(env, execArgv)) v8.setFlagsFromString(EXTERNAL_MEMORY_FLAG);
}
