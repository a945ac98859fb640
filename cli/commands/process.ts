/**
 * `ciclo process [--model id|path] [--grace ms] [--idle-flush ms] [--dedupe-window ms] [--dedupe-max n]
 * [--metrics-port n]`: the lifecycle processor, until Ctrl-C.
 */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { createLogger } from '../../infra/log';
import { DEFAULT_MODEL_ID } from '../../processors/domain/model';
import { DEFAULT_RECENT_EVENTS } from '../../processors/domain/recent-events';
import { loadModel } from '../../processors/runtime/model-file';
import {
  IDLE_FLUSH_MS,
  LANE_LEASE_MS,
  processorTopicsOf,
  startLifecycleProcessor,
} from '../../processors/runtime/start';
import { processorGroupOf } from '../../schemas/topics';
import { startMetricsEndpoint, withMetricsOptions, type MetricsOptions } from '../metrics-endpoint';

export function registerProcessCommand(program: Command, getConfig: () => CicloConfig): void {
  const command = program
    .command('process')
    .description('run the lifecycle processor: touchpoints in, stage changes and snapshots out, exactly once')
    .option('--model <id|path>', 'stage model', DEFAULT_MODEL_ID)
    .option('--grace <ms>', 'grace period for out-of-order touchpoints (event time)', '0')
    .option(
      '--idle-flush <ms>',
      'apply buffered touchpoints after this long without input (wall time; longer than a broker failover)',
      String(IDLE_FLUSH_MS),
    )
    .option(
      '--lane-lease <ms>',
      'close an import lane that carried no record for this long (an import that died; wall time of the records)',
      String(LANE_LEASE_MS),
    )
    .option(
      '--dedupe-window <ms>',
      'drop a copy of an input record that comes within this long of it (record time; a sender retrying)',
      String(DEFAULT_RECENT_EVENTS.windowMs),
    )
    .option(
      '--dedupe-max <events>',
      'remember at most this many input records per partition for it (5 MB per 200,000)',
      String(DEFAULT_RECENT_EVENTS.maxEvents),
    )
    .option('--topics-prefix <prefix>', 'for tests: use <prefix>.touchpoints etc. instead of ciclo.*');
  withMetricsOptions(command).action(
    async (
      opts: {
        model: string;
        grace: string;
        idleFlush: string;
        laneLease: string;
        dedupeWindow: string;
        dedupeMax: string;
        topicsPrefix?: string;
      } & MetricsOptions,
    ) => {
      const config = getConfig();
      const grace = Number(opts.grace);
      const idle = Number(opts.idleFlush);
      if (!Number.isFinite(grace) || grace < 0)
        throw new CicloError('CONFIG_INVALID', `--grace must be milliseconds >= 0, got "${opts.grace}"`);
      if (!Number.isFinite(idle) || idle < 0)
        throw new CicloError(
          'CONFIG_INVALID',
          `--idle-flush must be milliseconds >= 0, got "${opts.idleFlush}"`,
        );
      const laneLeaseMs = Number(opts.laneLease);
      if (!Number.isFinite(laneLeaseMs) || laneLeaseMs <= 0)
        throw new CicloError(
          'CONFIG_INVALID',
          `--lane-lease must be milliseconds > 0, got "${opts.laneLease}"`,
        );
      const windowMs = Number(opts.dedupeWindow);
      if (!Number.isFinite(windowMs) || windowMs < 0)
        throw new CicloError(
          'CONFIG_INVALID',
          `--dedupe-window must be milliseconds >= 0, got "${opts.dedupeWindow}"`,
        );
      const maxEvents = Number(opts.dedupeMax);
      if (!Number.isSafeInteger(maxEvents) || maxEvents < 1)
        throw new CicloError(
          'CONFIG_INVALID',
          `--dedupe-max must be a whole number of events >= 1, got "${opts.dedupeMax}"`,
        );
      const model = loadModel(opts.model);
      const log = createLogger({ level: config.logLevel, name: 'processor' });
      const p = opts.topicsPrefix;
      const { metrics, endpoint } = await startMetricsEndpoint(opts, log);
      // Listening before starting: a Ctrl-C or SIGTERM during startup (joining, restoring) stops the processor
      // cleanly, leaving the group at once, instead of killing it, which would make the other instances wait
      // a session timeout for its partitions.
      const stopRequest = new AbortController();
      const stopRequested = new Promise<string>((resolve) => {
        const onSignal = (signal: NodeJS.Signals): void => {
          stopRequest.abort();
          resolve(signal);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      });
      const processor = await startLifecycleProcessor({
        endpoints: config.endpoints,
        installation: config,
        model,
        gracePeriodMs: grace,
        idleFlushMs: idle,
        laneLeaseMs,
        recentEvents: { windowMs, maxEvents },
        log,
        // <p>.touchpoints, ..., the model's changelog <p>.lifecycle-state.<model id>, moved from the
        // changelog every model shared before, <p>.lifecycle-state (changelog/shared-move.ts).
        ...(p ? { topics: processorTopicsOf(model.id, p), groupId: processorGroupOf(p, model.id) } : {}),
        signal: stopRequest.signal,
        ...(metrics ? { metrics } : {}),
      }).catch(async (err: unknown) => {
        await endpoint?.close();
        throw err;
      });
      if (!stopRequest.signal.aborted)
        log.info({ model: model.id, version: model.version }, 'processor started');
      const reason = await Promise.race([
        stopRequested,
        processor.crashed.then((err) => `crash: ${err.message}`),
      ]);
      await processor.stop();
      await endpoint?.close();
      log.info({ reason }, 'processor stopped');
      if (reason.startsWith('crash')) process.exitCode = 1;
    },
  );
}
