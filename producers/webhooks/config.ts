/**
 * Webhook secrets per provider, parsed with zod from the environment once at the entry point and passed
 * in. `CICLO_WEBHOOK_SECRETS` is a comma-separated list of `provider:secret` pairs; a provider may appear
 * more than once while a secret is rotated (a delivery signed with any of them is accepted):
 *
 * - `stripe:whsec_...`: the endpoint's signing secret (Dashboard > Developers > Webhooks).
 * - `typeform:<secret>`: the `secret` set on the Typeform webhook.
 * - `sendgrid:<public key>`: the Signed Event Webhook's verification key, base64 DER as SendGrid shows it.
 *   It is a public key, not a secret, but it is configured the same way.
 *
 * The installation's secret (infra/privacy/installation-secret.ts), the key of the email-derived ids, is
 * loaded by the entry point, as every process of the installation loads it, and passed in with these.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CicloError, errorMessage } from '../../infra/errors';

export const WEBHOOK_PROVIDERS = ['sendgrid', 'stripe', 'typeform'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];

export interface WebhooksConfig {
  readonly stripe: { readonly secrets: readonly string[] };
  readonly typeform: { readonly secrets: readonly string[] };
  readonly sendgrid: { readonly publicKeys: readonly KeyObject[] };
  /** How far a signed timestamp (Stripe's, SendGrid's) may be from now: the replay window. */
  readonly toleranceSeconds: number;
  /** Largest accepted webhook body, in bytes. */
  readonly bodyLimitBytes: number;
  /** The installation's secret: the key of `emailAnonymousId` (schemas/pseudonym.ts). */
  readonly pseudonymSecret: Buffer;
}

/**
 * Stripe's libraries reject signatures older than five minutes by default (stripe-node DEFAULT_TOLERANCE);
 * SendGrid documents no window, and gets the same one.
 */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;
export const DEFAULT_WEBHOOK_BODY_LIMIT_BYTES = 1024 * 1024;

/** SendGrid shows the verification key as base64 DER (SubjectPublicKeyInfo), without PEM framing. */
export function parseSendgridPublicKey(text: string): KeyObject {
  return createPublicKey({ key: Buffer.from(text.trim(), 'base64'), format: 'der', type: 'spki' });
}

const pairs = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z
        .string()
        .regex(
          new RegExp(`^(${WEBHOOK_PROVIDERS.join('|')}):\\S+$`),
          `each entry must be provider:secret with provider one of ${WEBHOOK_PROVIDERS.join(', ')}`,
        ),
    ),
  )
  .transform((entries) =>
    entries.map((e) => ({
      provider: e.slice(0, e.indexOf(':')) as WebhookProvider,
      secret: e.slice(e.indexOf(':') + 1),
    })),
  )
  .superRefine((entries, ctx) => {
    entries.forEach(({ provider, secret }, i) => {
      if (provider !== 'sendgrid') return;
      try {
        const key = parseSendgridPublicKey(secret);
        if (key.asymmetricKeyType !== 'ec')
          throw new Error(`expected an EC key, got ${key.asymmetricKeyType}`);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `sendgrid: not a usable ECDSA public key (${errorMessage(err)})`,
        });
      }
    });
  });

const positiveInt = (what: string) =>
  z
    .string()
    .regex(/^\d+$/, `${what} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().positive(`${what} must be > 0`));

export const WebhooksEnvSchema = z.object({
  CICLO_WEBHOOK_SECRETS: pairs.default([]),
  CICLO_WEBHOOK_TOLERANCE_SECONDS: positiveInt('CICLO_WEBHOOK_TOLERANCE_SECONDS').default(
    DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  ),
  // Refused rather than ignored, so a deployment that set it does not silently get the default.
  CICLO_STRIPE_TOLERANCE_SECONDS: z
    .never('renamed CICLO_WEBHOOK_TOLERANCE_SECONDS: the window now holds for SendGrid too')
    .optional(),
  CICLO_WEBHOOK_BODY_LIMIT: positiveInt('CICLO_WEBHOOK_BODY_LIMIT (bytes)').default(
    DEFAULT_WEBHOOK_BODY_LIMIT_BYTES,
  ),
});

/** The webhooks' variables from an environment record, with the installation's secret the entry point loaded. */
export function loadWebhooksConfig(
  env: Readonly<Record<string, string | undefined>>,
  pseudonymSecret: Buffer,
): WebhooksConfig {
  const parsed = WebhooksEnvSchema.safeParse(env);
  if (!parsed.success) {
    // Never echo the secrets themselves: name the variable and the entry's position.
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new CicloError('CONFIG_INVALID', `invalid webhook environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const of = (p: WebhookProvider): string[] =>
    e.CICLO_WEBHOOK_SECRETS.filter((x) => x.provider === p).map((x) => x.secret);
  return webhooksConfig({
    stripe: { secrets: of('stripe') },
    typeform: { secrets: of('typeform') },
    sendgrid: { publicKeys: of('sendgrid').map(parseSendgridPublicKey) },
    toleranceSeconds: e.CICLO_WEBHOOK_TOLERANCE_SECONDS,
    bodyLimitBytes: e.CICLO_WEBHOOK_BODY_LIMIT,
    pseudonymSecret,
  });
}

/**
 * A complete, frozen config from the given fields and the defaults (no provider configured). The secret has
 * no default: a fixed one would make email-derived ids an unkeyed hash again.
 */
export function webhooksConfig(
  fields: Partial<WebhooksConfig> & Pick<WebhooksConfig, 'pseudonymSecret'>,
): WebhooksConfig {
  return Object.freeze({
    stripe: fields.stripe ?? { secrets: [] },
    typeform: fields.typeform ?? { secrets: [] },
    sendgrid: fields.sendgrid ?? { publicKeys: [] },
    toleranceSeconds: fields.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
    bodyLimitBytes: fields.bodyLimitBytes ?? DEFAULT_WEBHOOK_BODY_LIMIT_BYTES,
    pseudonymSecret: fields.pseudonymSecret,
  });
}

/** Providers with at least one secret or key, for the startup log. */
export function configuredProviders(config: WebhooksConfig): WebhookProvider[] {
  return WEBHOOK_PROVIDERS.filter((p) =>
    p === 'sendgrid' ? config.sendgrid.publicKeys.length > 0 : config[p].secrets.length > 0,
  );
}
