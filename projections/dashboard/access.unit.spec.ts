import { CicloError } from '../../infra/errors';
import {
  assertListenable,
  bearerToken,
  decideAccess,
  hostnameOf,
  isAllowedHost,
  isLoopbackHost,
  namesCustomers,
  tokenMatches,
} from './access';
import { dashboardAccess } from './config';

const TOKEN = 'tok_0123456789abcdef';

describe('loopback and listening', () => {
  it.each([
    '127.0.0.1',
    '127.8.0.1',
    '::1',
    '[::1]',
    'localhost',
    'LOCALHOST',
    'shop.localhost',
    '::ffff:127.0.0.1',
  ])('%s is loopback', (host) => expect(isLoopbackHost(host)).toBe(true));
  it.each(['0.0.0.0', '::', '192.168.1.5', 'localhost.example', 'example.com', '128.0.0.1'])(
    '%s is not',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );

  it('refuses to listen beyond loopback without a token, naming the variable', () => {
    expect(() => assertListenable('0.0.0.0', dashboardAccess())).toThrow(CicloError);
    expect(() => assertListenable('192.168.1.5', dashboardAccess())).toThrow(/CICLO_DASHBOARD_TOKEN/);
    expect(() => assertListenable('0.0.0.0', dashboardAccess({ token: TOKEN }))).not.toThrow();
    expect(() => assertListenable('127.0.0.1', dashboardAccess())).not.toThrow();
  });
});

describe('the Host check', () => {
  it.each([
    ['localhost:8070', 'localhost'],
    ['[::1]:8070', '::1'],
    ['Dash.Example', 'dash.example'],
    ['', undefined],
    [undefined, undefined],
    ['::1', undefined],
  ])('reads the name of %s', (header, name) => expect(hostnameOf(header)).toBe(name));

  it('allows loopback names, IP addresses, the listen host and configured names only', () => {
    const access = dashboardAccess({ allowedHosts: ['dash.example'] });
    const allowed = (host: string | undefined, listen = '127.0.0.1'): boolean =>
      isAllowedHost(host, listen, access);
    expect(allowed('localhost:8070')).toBe(true);
    expect(allowed('10.0.0.7:8070')).toBe(true);
    expect(allowed('[fe80::1]:8070')).toBe(true);
    expect(allowed('dash.example:443')).toBe(true);
    expect(allowed('box.lan:8070', 'box.lan')).toBe(true);
    expect(allowed('box.lan:8070')).toBe(false);
    expect(allowed('rebind.attacker.example')).toBe(false);
    expect(allowed('localhost.attacker.example')).toBe(false);
    expect(allowed(undefined)).toBe(false);
  });
});

describe('the token', () => {
  it('reads a bearer token and compares it whole', () => {
    expect(bearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`bearer   ${TOKEN} `)).toBe(TOKEN);
    expect(bearerToken(`Basic ${TOKEN}`)).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN.slice(0, -1), TOKEN)).toBe(false);
    expect(tokenMatches(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(tokenMatches(undefined, TOKEN)).toBe(false);
  });

  it('guards the API, not the page, when configured; names customers only then', () => {
    const withToken = dashboardAccess({ token: TOKEN });
    const decide = (path: string, authorization?: string, access = withToken) =>
      decideAccess(
        { path, host: 'localhost:8070', ...(authorization ? { authorization } : {}) },
        '127.0.0.1',
        access,
      ).kind;
    expect(decide('/')).toBe('allowed');
    expect(decide('/api/cohorts')).toBe('refused');
    expect(decide('/api/cohorts', `Bearer ${TOKEN}`)).toBe('allowed');
    expect(decide('/api/cohorts', undefined, dashboardAccess())).toBe('allowed');
    expect(namesCustomers(withToken)).toBe(true);
    expect(namesCustomers(dashboardAccess())).toBe(false);
  });

  it('checks the host before the token', () => {
    expect(
      decideAccess(
        { path: '/api/cohorts', host: 'attacker.example', authorization: `Bearer ${TOKEN}` },
        '127.0.0.1',
        dashboardAccess({ token: TOKEN }),
      ),
    ).toMatchObject({ kind: 'refused', code: 'HOST_NOT_ALLOWED' });
  });
});
