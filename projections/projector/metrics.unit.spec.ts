import { createMetrics } from '../../infra/metrics/registry';
import { PROJECTOR_COUNTER_METRICS, registerProjectorMetrics } from './metrics';
import type { ProjectorCounters } from './projector';

describe("the projector's metrics", () => {
  it('reads every counter when scraped, and times inserts by table', async () => {
    const counters: ProjectorCounters = {
      received: 10,
      inserted: 8,
      superseded: 1,
      deadLettered: 1,
      insertRetries: 0,
      splitInserts: 0,
      suppressed: 0,
      unopened: 0,
    };
    const metrics = createMetrics();
    const observeInsert = registerProjectorMetrics(metrics, counters);
    observeInsert({ table: 'ciclo.touchpoints', durationMs: 20 });
    counters.received = 12;
    const text = await metrics.exposition();
    expect(text).toContain('ciclo_projector_messages_received_total 12\n');
    expect(text).toContain('ciclo_projector_rows_inserted_total 8\n');
    expect(text).toContain('ciclo_projector_dead_letters_total 1\n');
    expect(text).toContain('ciclo_projector_insert_duration_seconds_count{table="ciclo.touchpoints"} 1\n');
    for (const { name } of Object.values(PROJECTOR_COUNTER_METRICS)) expect(text).toContain(`${name} `);
  });
});
