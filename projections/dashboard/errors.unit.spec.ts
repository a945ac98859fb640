import { CicloError } from '../../infra/errors';
import { toDashboardError } from './errors';

const sysError = (code: string): Error =>
  Object.assign(new Error(`connect ${code} 127.0.0.1:8123`), { code });

describe('toDashboardError', () => {
  it('an unreachable ClickHouse is 503 CLICKHOUSE_UNREACHABLE with a hint', () => {
    const e = toDashboardError(sysError('ECONNREFUSED'), 'ciclo');
    expect(e).toMatchObject({ code: 'CLICKHOUSE_UNREACHABLE', status: 503 });
    expect(e.hint).toContain('ciclo stack');
    expect(toDashboardError(new AggregateError([sysError('ECONNREFUSED')]), 'ciclo').code).toBe(
      'CLICKHOUSE_UNREACHABLE',
    );
    expect(toDashboardError(new Error('Timeout error.'), 'ciclo').code).toBe('CLICKHOUSE_UNREACHABLE');
  });

  it('a missing database or table, in 18.16 or modern wording, is NOT_MIGRATED', () => {
    const old = new Error("Code: 81, e.displayText() = DB::Exception: Database x doesn't exist");
    const modern = Object.assign(new Error('Unknown table expression identifier'), {
      code: '60',
      type: 'UNKNOWN_TABLE',
    });
    expect(toDashboardError(old, 'x')).toMatchObject({ code: 'NOT_MIGRATED', status: 503 });
    expect(toDashboardError(modern, 'x').hint).toContain('ciclo migrate');
  });

  it('an invalid value is BAD_QUERY; anything else QUERY_FAILED', () => {
    expect(toDashboardError(new CicloError('CONFIG_INVALID', 'bad date'), 'x')).toMatchObject({
      code: 'BAD_QUERY',
      status: 400,
      message: 'bad date',
    });
    expect(toDashboardError(new Error('Code: 62, e.displayText() = Syntax error'), 'x')).toMatchObject({
      code: 'QUERY_FAILED',
      status: 500,
    });
  });
});
