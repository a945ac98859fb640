/**
 * Renders the reference part of schemas/README.md from the contracts themselves (examples, topics), so
 * the docs cannot go stale: a unit test compares the README with this output. Regenerate with
 * `npm run docs:schemas`.
 */
import { CUSTOMER_SNAPSHOT_EXAMPLE, STAGE_CHANGED_EXAMPLE, TOUCHPOINT_EXAMPLES } from './examples';
import { ALL_TOPICS, LIFECYCLE_STATE } from './topics';
import { TOUCHPOINT_TYPES } from './touchpoint';

export const BEGIN_MARKER = '<!-- BEGIN GENERATED: npm run docs:schemas -->';
export const END_MARKER = '<!-- END GENERATED -->';

const fence = (value: unknown): string => ['```json', JSON.stringify(value, null, 2), '```'].join('\n');

export function renderSchemaReference(): string {
  const out: string[] = [
    BEGIN_MARKER,
    '',
    '## Topics',
    '',
    '| topic | partitions | key | cleanup | values | compatibility |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const t of [...ALL_TOPICS, LIFECYCLE_STATE]) {
    out.push(
      `| \`${t.name}\` | ${t.partitions} | ${t.key} | ${t.config?.['cleanup.policy'] ?? 'delete'} | ${t.contract === 'raw' ? 'original bytes' : t.contract === 'private' ? 'ciclo-private bytes' : t.contract} | ${t.compatibility ?? '-'} |`,
    );
  }
  out.push('', '## Touchpoint types', '');
  const order = [
    'eventId',
    'type',
    'customerId',
    'anonymousId',
    'occurredAt',
    'receivedAt',
    'source',
    'context',
    'payload',
  ];
  for (const type of TOUCHPOINT_TYPES) {
    const example = TOUCHPOINT_EXAMPLES[type] as Record<string, unknown>;
    const ordered = Object.fromEntries(
      order.filter((k) => example[k] !== undefined).map((k) => [k, example[k]]),
    );
    out.push(`### ${type}`, '', fence(ordered), '');
  }
  out.push(
    '## Outputs',
    '',
    '### StageChanged',
    '',
    fence(STAGE_CHANGED_EXAMPLE),
    '',
    '### CustomerSnapshot',
    '',
    fence(CUSTOMER_SNAPSHOT_EXAMPLE),
    '',
    END_MARKER,
  );
  return out.join('\n');
}

export function replaceGeneratedSection(readme: string): string {
  const start = readme.indexOf(BEGIN_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < 0) return `${readme.trimEnd()}\n\n${renderSchemaReference()}\n`;
  return `${readme.slice(0, start)}${renderSchemaReference()}${readme.slice(end + END_MARKER.length)}`;
}
