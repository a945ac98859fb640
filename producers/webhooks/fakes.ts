/**
 * What the webhooks' unit tests share: a fixed installation secret (the key of email-derived ids), so that
 * expected ids are computed with schemas/pseudonym.ts exactly as the mappings compute them.
 */
export const TEST_PSEUDONYM_SECRET = Buffer.from('ciclo unit tests: not a real key.', 'utf8');
