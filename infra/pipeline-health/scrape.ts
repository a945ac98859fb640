/**
 * Reading a few totals out of Prometheus' text format (a processor's /metrics): each metric's samples
 * summed over their labels. Enough for a panel that shows how many touchpoints came late; not a parser
 * of every corner of the format (timestamps after the value are ignored, and so is everything after it).
 */
export function sumsByMetric(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // name, then optional {labels} (whose values may hold spaces and braces, escaped quotes), then value.
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    sums.set(match[1]!, (sums.get(match[1]!) ?? 0) + value);
  }
  return sums;
}

/** What the pipeline panel and `ciclo status` show of a processor's counters. */
export interface ProcessorCounts {
  readonly touchpointsIn: number;
  readonly stageChanges: number;
  readonly late: number;
  readonly deadLetters: number;
  /** Touchpoints of people `ciclo forget` erased, dropped. */
  readonly suppressed: number;
}

export function processorCountsOf(text: string): ProcessorCounts {
  const sums = sumsByMetric(text);
  const of = (name: string): number => sums.get(name) ?? 0;
  return {
    touchpointsIn: of('ciclo_processor_touchpoints_in_total'),
    stageChanges: of('ciclo_processor_stage_changes_total'),
    late: of('ciclo_processor_touchpoints_late_total'),
    deadLetters: of('ciclo_processor_dead_letters_total'),
    suppressed: of('ciclo_processor_touchpoints_suppressed_total'),
  };
}
