/**
 * `npm run bench:idle`: the CPU each long-running service takes with no traffic at all, a figure a user
 * running ciclo on small machines or many models pays all day. The processor, the projector and the
 * collector run one at a time, as bench/worker.ts runs them for the other figures (the services' own code,
 * on a run's fresh topics and database), each measured alone from /proc once it has settled. Needs the stack
 * (`npx ciclo stack up`); CICLO_BENCH_IDLE_SETTLE_S (default 30) and CICLO_BENCH_IDLE_WINDOW_S (default 30).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../infra/config';
import { freePort } from '../infra/stack/processes';
import { cpuSecondsOf } from './cpu';
import { createRun, removeRun, startWorker } from './pipeline';

const ROOT = path.resolve(__dirname, '..', '..');
const ROLES = ['processor', 'projector', 'collector'] as const;

async function main(): Promise<void> {
  const { endpoints } = loadConfig(process.env, ROOT);
  const settleSeconds = Number(process.env.CICLO_BENCH_IDLE_SETTLE_S ?? 30);
  const windowSeconds = Number(process.env.CICLO_BENCH_IDLE_WINDOW_S ?? 30);
  const { run, topics, scoped } = await createRun(endpoints, 'idle');
  try {
    for (const role of ROLES) {
      const options =
        role === 'collector'
          ? {
              endpoints,
              run,
              topics: { touchpoints: topics.touchpoints },
              writeKey: `wk_${run}`,
              port: await freePort(),
            }
          : { endpoints: scoped, run, topics };
      const worker = await startWorker(role, options);
      try {
        await sleep(settleSeconds * 1000);
        const before = cpuSecondsOf(worker.pid);
        await sleep(windowSeconds * 1000);
        const used = cpuSecondsOf(worker.pid) - before;
        const failed = worker.failed();
        if (failed !== undefined) throw new Error(failed);
        console.log(
          `${`idleCpuMillisPerSecond ${role}`.padEnd(40)} ${((used * 1000) / windowSeconds).toFixed(1)}`,
        );
      } finally {
        await worker.stop();
      }
    }
  } finally {
    await removeRun(endpoints, run, topics);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
