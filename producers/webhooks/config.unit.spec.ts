import { generateKeyPairSync } from 'node:crypto';
import { CicloError } from '../../infra/errors';
import {
  configuredProviders,
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  loadWebhooksConfig as loadWith,
} from './config';
import { TEST_PSEUDONYM_SECRET } from './fakes';

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const loadWebhooksConfig = (env: Record<string, string>) => loadWith(env, TEST_PSEUDONYM_SECRET);
const base64Der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');

describe('loadWebhooksConfig', () => {
  it('reads provider:secret pairs, several per provider while rotating', () => {
    const config = loadWebhooksConfig({
      CICLO_WEBHOOK_SECRETS: `stripe:whsec_a, stripe:whsec_b,typeform:tf:with:colons,sendgrid:${base64Der}`,
    });
    expect(config.stripe).toEqual({ secrets: ['whsec_a', 'whsec_b'] });
    expect(config.toleranceSeconds).toBe(DEFAULT_WEBHOOK_TOLERANCE_SECONDS);
    expect(config.typeform.secrets).toEqual(['tf:with:colons']);
    expect(config.sendgrid.publicKeys.map((k) => k.asymmetricKeyType)).toEqual(['ec']);
    expect(configuredProviders(config)).toEqual(['sendgrid', 'stripe', 'typeform']);
    expect(config.pseudonymSecret).toBe(TEST_PSEUDONYM_SECRET);
  });

  it('configures nothing when the variable is absent: every webhook then answers 401', () => {
    expect(configuredProviders(loadWebhooksConfig({}))).toEqual([]);
  });

  it('names each bad entry by position without echoing secrets', () => {
    let error: unknown;
    try {
      loadWebhooksConfig({
        CICLO_WEBHOOK_SECRETS: 'stripe:whsec_ok,paypal:sekrit,sendgrid:bm90LWEta2V5',
        CICLO_WEBHOOK_TOLERANCE_SECONDS: '0',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CicloError);
    const message = (error as CicloError).message;
    expect(message).toContain('CICLO_WEBHOOK_SECRETS.1: each entry must be provider:secret');
    expect(message).toContain('CICLO_WEBHOOK_TOLERANCE_SECONDS: CICLO_WEBHOOK_TOLERANCE_SECONDS must be > 0');
    expect(message).not.toContain('sekrit');
  });

  it('reads one replay window for every signed timestamp, and refuses the old Stripe-only name', () => {
    expect(loadWebhooksConfig({ CICLO_WEBHOOK_TOLERANCE_SECONDS: '600' }).toleranceSeconds).toBe(600);
    expect(() => loadWebhooksConfig({ CICLO_STRIPE_TOLERANCE_SECONDS: '600' })).toThrow(
      /CICLO_STRIPE_TOLERANCE_SECONDS: renamed CICLO_WEBHOOK_TOLERANCE_SECONDS/,
    );
  });

  it('refuses a SendGrid key that is not an ECDSA public key', () => {
    expect(() => loadWebhooksConfig({ CICLO_WEBHOOK_SECRETS: 'sendgrid:bm90LWEta2V5' })).toThrow(
      /CICLO_WEBHOOK_SECRETS.0: sendgrid: not a usable ECDSA public key/,
    );
  });
});
