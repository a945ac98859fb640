/**
 * How long the event loop was held while some work ran: Node's own histogram of event-loop delays
 * (perf_hooks.monitorEventLoopDelay), its longest. A Kafka member whose loop is held past the session
 * timeout sends no heartbeat and is dropped from its group; a restore reports its longest hold so that an
 * operator sees how close it came.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface EventLoopDelayWatch {
  /** Stops watching; the longest delay seen, in milliseconds (0 if the loop was never held past 10 ms). */
  stop(): number;
}

export function watchEventLoopDelay(): EventLoopDelayWatch {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let stopped = false;
  return {
    stop() {
      if (!stopped) histogram.disable();
      stopped = true;
      // Delays are measured past the sampling interval: a loop never held reads about 10 ms.
      return histogram.count === 0 ? 0 : Math.max(0, Math.round(histogram.max / 1e6 - 10));
    },
  };
}
