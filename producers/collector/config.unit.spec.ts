import { CicloError } from '../../infra/errors';
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_RATE_LIMIT, loadCollectorConfig } from './config';

describe('loadCollectorConfig', () => {
  it('reads write keys per source, marks snippet sources, and defaults the rest', () => {
    const config = loadCollectorConfig({
      CICLO_WRITE_KEYS: 'web:wk_pub_1, backend:wk_srv:with:colons ,web:wk_pub_2',
      CICLO_SNIPPET_SOURCES: 'web',
    });
    expect([...config.writeKeys]).toEqual([
      ['wk_pub_1', { name: 'web', kind: 'snippet' }],
      ['wk_srv:with:colons', { name: 'backend', kind: 'api' }],
      ['wk_pub_2', { name: 'web', kind: 'snippet' }],
    ]);
    expect(config).toMatchObject({
      bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
      corsOrigins: true,
      defaultCurrency: 'USD',
      sendTimeoutMs: 10_000,
      retryAfterSeconds: 5,
      rateLimit: DEFAULT_RATE_LIMIT,
      urlQueryAllowlist: [],
      ipRetention: 'none',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes a rate limit per write key in calls per second, with a burst of 10 seconds unless given', () => {
    expect(loadCollectorConfig({ CICLO_RATE_LIMIT: '50' }).rateLimit).toEqual({
      callsPerSecond: 50,
      burst: 500,
    });
    expect(loadCollectorConfig({ CICLO_RATE_LIMIT: '50', CICLO_RATE_LIMIT_BURST: '60' }).rateLimit).toEqual({
      callsPerSecond: 50,
      burst: 60,
    });
    expect(loadCollectorConfig({ CICLO_RATE_LIMIT_BURST: '100' }).rateLimit).toEqual({
      callsPerSecond: DEFAULT_RATE_LIMIT.callsPerSecond,
      burst: 100,
    });
    expect(loadCollectorConfig({ CICLO_RATE_LIMIT: 'off' }).rateLimit).toBeUndefined();
    expect(() => loadCollectorConfig({ CICLO_RATE_LIMIT: '10/s' })).toThrow(
      /CICLO_RATE_LIMIT: must be calls per second per write key \(a whole number\), or off/,
    );
    expect(() => loadCollectorConfig({ CICLO_RATE_LIMIT: '0' })).toThrow(/CICLO_RATE_LIMIT: must be > 0/);
  });

  it('takes limits, origins and currency from the environment', () => {
    const config = loadCollectorConfig({
      CICLO_COLLECTOR_BODY_LIMIT: '1048576',
      CICLO_CORS_ORIGINS: 'https://shop.example, https://www.shop.example',
      CICLO_DEFAULT_CURRENCY: 'EUR',
      CICLO_COLLECTOR_SEND_TIMEOUT_MS: '2500',
    });
    expect(config).toMatchObject({
      writeKeys: new Map(),
      bodyLimitBytes: 1048576,
      corsOrigins: ['https://shop.example', 'https://www.shop.example'],
      defaultCurrency: 'EUR',
      sendTimeoutMs: 2500,
    });
  });

  it('keeps query parameters by name and IP addresses truncated only when told to', () => {
    const config = loadCollectorConfig({
      CICLO_URL_QUERY_ALLOWLIST: 'page, ref,,variant',
      CICLO_COLLECTOR_IP: 'truncated',
    });
    expect(config.urlQueryAllowlist).toEqual(['page', 'ref', 'variant']);
    expect(Object.isFrozen(config.urlQueryAllowlist)).toBe(true);
    expect(config.ipRetention).toBe('truncated');
    expect(loadCollectorConfig({ CICLO_COLLECTOR_IP: 'none' }).ipRetention).toBe('none');
    expect(() => loadCollectorConfig({ CICLO_COLLECTOR_IP: 'full' })).toThrow(
      /CICLO_COLLECTOR_IP: must be none or truncated/,
    );
    expect(() => loadCollectorConfig({ CICLO_URL_QUERY_ALLOWLIST: 'page,a=b' })).toThrow(
      /CICLO_URL_QUERY_ALLOWLIST.1: each entry must be a query parameter name/,
    );
  });

  it('reports every invalid variable at once, by name, without echoing keys', () => {
    let error: unknown;
    try {
      loadCollectorConfig({
        CICLO_WRITE_KEYS: 'web:k1,nokey,api:k1',
        CICLO_SNIPPET_SOURCES: 'landing',
        CICLO_COLLECTOR_BODY_LIMIT: '512kb',
        CICLO_DEFAULT_CURRENCY: 'euro',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CicloError);
    const message = (error as CicloError).message;
    expect((error as CicloError).code).toBe('CONFIG_INVALID');
    expect(message).toContain('CICLO_WRITE_KEYS.1: each entry must be source:key');
    expect(message).toContain(
      'CICLO_COLLECTOR_BODY_LIMIT: CICLO_COLLECTOR_BODY_LIMIT (bytes) must be a whole number',
    );
    expect(message).toContain('CICLO_DEFAULT_CURRENCY: must be a three-letter ISO 4217 code');
    expect(message).not.toContain('k1');
  });

  it('refuses one key for two sources, and snippet sources without a key', () => {
    expect(() => loadCollectorConfig({ CICLO_WRITE_KEYS: 'web:k1,api:k1' })).toThrow(
      /the same key is given to sources "web" and "api"/,
    );
    expect(() =>
      loadCollectorConfig({ CICLO_WRITE_KEYS: 'web:k1', CICLO_SNIPPET_SOURCES: 'landing' }),
    ).toThrow(/source "landing" has no write key/);
  });
});
