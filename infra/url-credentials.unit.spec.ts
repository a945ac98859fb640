import { redactUrl, redactUrlsIn, splitUrlCredentials } from './url-credentials';

describe('redactUrl', () => {
  it.each([
    ['http://default:s3cret@ch.example:8123', 'http://default:***@ch.example:8123/'],
    [
      'https://svc:p%40ss@registry.example/api/v1/confluent',
      'https://svc:***@registry.example/api/v1/confluent',
    ],
    [
      'http://ch.example:8123/?password=s3cret&database=ciclo',
      'http://ch.example:8123/?password=***&database=ciclo',
    ],
    ['http://ch.example:8123/?api_key=k&user=u', 'http://ch.example:8123/?api_key=***&user=u'],
  ])('hides the secret in %s', (given, shown) => {
    expect(redactUrl(given)).toBe(shown);
    expect(redactUrl(given)).not.toMatch(/s3cret|p%40ss|=k&/);
  });

  it('leaves URLs without secrets exactly as given, and text that is no URL alone', () => {
    expect(redactUrl('http://127.0.0.1:8123')).toBe('http://127.0.0.1:8123');
    expect(redactUrl('http://reader@ch.example:8123')).toBe('http://reader@ch.example:8123');
    expect(redactUrl('127.0.0.1:9092,127.0.0.1:9093')).toBe('127.0.0.1:9092,127.0.0.1:9093');
  });
});

describe('splitUrlCredentials', () => {
  it('moves user and password into a Basic Authorization value', () => {
    const split = splitUrlCredentials('http://default:p%40ss@ch.example:8123/ping');
    expect(split.url).toBe('http://ch.example:8123/ping');
    expect(Buffer.from(split.authorization!.replace('Basic ', ''), 'base64').toString()).toBe('default:p@ss');
  });

  it('leaves a URL without credentials as it is', () => {
    expect(splitUrlCredentials('http://127.0.0.1:8123/ping')).toEqual({ url: 'http://127.0.0.1:8123/ping' });
  });
});

describe('redactUrlsIn', () => {
  it('hides the password of every URL in a message, and leaves the rest of it alone', () => {
    const message =
      'schema registry at http://svc:***@sr.example:8081: Request cannot be constructed from a URL that ' +
      'includes credentials: http://svc:hunter2@sr.example:8081/subjects (see https://example.com/docs)';
    const shown = redactUrlsIn(message);
    expect(shown).not.toContain('hunter2');
    expect(shown).toContain(
      'credentials: http://svc:***@sr.example:8081/subjects (see https://example.com/docs)',
    );
    expect(redactUrlsIn('connect ECONNREFUSED 127.0.0.1:9092')).toBe('connect ECONNREFUSED 127.0.0.1:9092');
  });
});
