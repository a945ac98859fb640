import { CicloError } from '../../infra/errors';
import { loadDashboardAccess } from './config';

describe('loadDashboardAccess', () => {
  it('has no token and no extra host by default; a blank token is none', () => {
    expect(loadDashboardAccess({})).toEqual({ allowedHosts: [] });
    expect(loadDashboardAccess({ CICLO_DASHBOARD_TOKEN: '  ' })).toEqual({ allowedHosts: [] });
  });

  it('reads the token and the host names (lower case)', () => {
    expect(
      loadDashboardAccess({
        CICLO_DASHBOARD_TOKEN: '0123456789abcdef0123',
        CICLO_DASHBOARD_HOSTS: 'Dash.Example, box.lan',
      }),
    ).toEqual({ token: '0123456789abcdef0123', allowedHosts: ['dash.example', 'box.lan'] });
  });

  it('refuses a short token without echoing it, and a host that is no name', () => {
    let error: unknown;
    try {
      loadDashboardAccess({ CICLO_DASHBOARD_TOKEN: 'hunter2', CICLO_DASHBOARD_HOSTS: 'ok.example,http://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CicloError);
    const message = (error as CicloError).message;
    expect(message).toContain('CICLO_DASHBOARD_TOKEN: at least 16 characters');
    expect(message).toContain('CICLO_DASHBOARD_HOSTS.1: each entry: a host name');
    expect(message).not.toContain('hunter2');
  });
});
