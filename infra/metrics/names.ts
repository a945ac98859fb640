/**
 * The rules every ciclo metric name and label follows, checked when a metric is defined (a wrong name is a
 * programming error, found by the first test that builds the metrics): Prometheus' name syntax, the
 * `ciclo_` prefix, and its naming conventions (https://prometheus.io/docs/practices/naming/): snake case,
 * counters end in `_total`, durations are in seconds and say so.
 */

export const METRIC_PREFIX = 'ciclo_';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** The name rules of one metric; throws with every broken rule named. */
export function checkMetricName(name: string, type: MetricType): string {
  const broken: string[] = [];
  if (!name.startsWith(METRIC_PREFIX)) broken.push(`starts with ${METRIC_PREFIX}`);
  if (!/^[a-z][a-z0-9_]*$/.test(name)) broken.push('is lowercase snake case');
  if (type === 'counter' && !name.endsWith('_total')) broken.push('ends in _total (a counter)');
  if (type !== 'counter' && name.endsWith('_total')) broken.push('ends in _total only if a counter');
  if (/_(ms|milliseconds)(_|$)/.test(name)) broken.push('measures time in seconds');
  if (broken.length > 0)
    throw new Error(`metric name ${name} must follow the rules: it ${broken.join(', ')}`);
  return name;
}

/** Label names: Prometheus' syntax, without its reserved `__` prefix and `le` (a histogram's own). */
export function checkLabelNames(name: string, labels: readonly string[]): readonly string[] {
  for (const label of labels)
    if (!/^[a-z][a-z0-9_]*$/.test(label) || label === 'le')
      throw new Error(`metric ${name}: label ${label} must be lowercase snake case and not "le"`);
  return labels;
}

/** A counter's key (`lateBehindCustomer`) as a label value or name part (`late_behind_customer`). */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
