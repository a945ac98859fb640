// Type-checked rules catch the mistakes that matter in async Kafka code: floating promises above all.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const KAFKAJS_SEAM = 'kafkajs is imported only in infra/kafka (our seam to swap clients).';
const PLATFORMATIC_SEAM =
  '@platformatic/kafka is imported only in infra/kafka (our seam to swap clients), as kafkajs is.';

/**
 * One `no-restricted-imports` setting made of several restrictions. ESLint keeps only the options of the last
 * config that sets a rule for a file, so every setting repeats the Kafka clients' restriction.
 */
function restrictImports(...restrictions) {
  return [
    'error',
    {
      paths: [
        { name: 'kafkajs', message: KAFKAJS_SEAM },
        { name: '@platformatic/kafka', message: PLATFORMATIC_SEAM },
        ...restrictions.flatMap((r) => r.paths ?? []),
      ],
      patterns: [
        { group: ['kafkajs/*'], message: KAFKAJS_SEAM },
        { group: ['@platformatic/kafka/*'], message: PLATFORMATIC_SEAM },
        ...restrictions.flatMap((r) => r.patterns ?? []),
      ],
    },
  ];
}

/** Imports of these folders of producers/ (as `../<folder>/...` or by any longer path), with why not. */
function producerFolders(folders, message) {
  return { patterns: [{ group: folders.map((f) => `**/${f}/**`), message }] };
}

const WAYS_IN_APART =
  'the ways in (producers/collector, producers/webhooks, ...) import none of each other: what they share ' +
  'goes in producers/edge/, and producers/server/ composes their routes';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.ciclo/**',
      'coverage/**',
      'bin/**',
      'producers/snippet/dist/**',
      '**/*.mjs',
      '**/*.cjs',
      '**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': restrictImports(),
    },
  },
  { files: ['infra/kafka/**'], rules: { 'no-restricted-imports': 'off' } },
  // What the ways in share is the bottom of producers/: it imports none of them.
  {
    files: ['producers/edge/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports(
        producerFolders(
          ['collector', 'webhooks', 'server', 'import', 'simulate', 'snippet'],
          'producers/edge/ is what the ways in share: it imports none of them',
        ),
      ),
    },
  },
  // The collector's /v1 and the webhooks are peers: neither imports the other, nor producers/server/, which
  // composes them (a cycle); their specs may build that server to test their routes over HTTP.
  {
    files: ['producers/collector/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': restrictImports(producerFolders(['webhooks', 'server'], WAYS_IN_APART)),
    },
  },
  {
    files: ['producers/collector/**/*.spec.ts'],
    rules: { 'no-restricted-imports': restrictImports(producerFolders(['webhooks'], WAYS_IN_APART)) },
  },
  {
    files: ['producers/webhooks/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': restrictImports(producerFolders(['collector', 'server'], WAYS_IN_APART)),
    },
  },
  {
    files: ['producers/webhooks/**/*.spec.ts'],
    rules: { 'no-restricted-imports': restrictImports(producerFolders(['collector'], WAYS_IN_APART)) },
  },
  // Projections read what the processors and the stores hold; nothing of how touchpoints get in. (Before the
  // pure domain's block below, which covers projections/clv and restricts producers/ there itself.)
  {
    files: ['projections/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        patterns: [
          {
            group: ['**/producers/**'],
            message: 'projections/ import nothing from producers/: share it through schemas/ (or infra/)',
          },
        ],
      }),
    },
  },
  // The contracts (schemas/) are the bottom layer: every other layer imports them, they import none, and
  // they do no I/O (write-docs.ts is the script that writes their README).
  {
    files: ['schemas/**/*.ts'],
    ignores: ['**/*.spec.ts', 'schemas/write-docs.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'kafkajs',
            '@platformatic/kafka',
            '@clickhouse/client',
            'fastify',
            'node:fs',
            'node:http',
            'node:net',
            'pino',
          ].map((name) => ({ name, message: 'schemas/ do no I/O: put this in an adapter (infra/)' })),
          patterns: [
            {
              group: [
                'kafkajs/*',
                '@platformatic/kafka/*',
                '**/infra/**',
                '**/producers/**',
                '**/processors/**',
                '**/projections/**',
                '**/cli/**',
              ],
              message: 'schemas/ are the bottom layer: they import nothing of ciclo but themselves',
            },
          ],
        },
      ],
    },
  },
  // The pure domain (the fold, stage rules, lanes, identity, stage models, CLV math) does no I/O: files,
  // Kafka, the registry, ClickHouse, HTTP and the runtime are reached only through the adapters around it,
  // which also turn its errors into the CLI's (infra/errors).
  {
    files: ['processors/domain/**/*.ts', 'projections/clv/**/*.ts'],
    ignores: ['**/*.spec.ts', 'projections/clv/refit.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'kafkajs',
            '@platformatic/kafka',
            '@clickhouse/client',
            'fastify',
            'node:http',
            'node:net',
            'node:fs',
            'fs',
            'node:child_process',
            'pino',
          ].map((name) => ({
            name,
            message: 'the pure domain does no I/O: put this in an adapter (processors/runtime, infra/)',
          })),
          patterns: [
            {
              group: [
                'kafkajs/*',
                '@platformatic/kafka/*',
                '**/infra/kafka/**',
                '**/infra/registry/**',
                '**/infra/clickhouse/**',
                '**/infra/stack/**',
                '**/infra/errors',
                '**/runtime/**',
              ],
              message: 'the pure domain does no I/O: put this in an adapter (processors/runtime, infra/)',
            },
            {
              group: ['**/producers/**', '**/cli/**'],
              message: 'the pure domain imports nothing of how touchpoints get in, nor the CLI',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
);
