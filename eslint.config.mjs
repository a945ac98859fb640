// Type-checked rules catch the mistakes that matter in async Kafka code: floating promises above all.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'kafkajs',
              message: 'kafkajs is imported only in infra/kafka (our seam to swap clients).',
            },
          ],
          patterns: [
            {
              group: ['kafkajs/*'],
              message: 'kafkajs is imported only in infra/kafka (our seam to swap clients).',
            },
          ],
        },
      ],
    },
  },
  { files: ['infra/kafka/**'], rules: { 'no-restricted-imports': 'off' } },
  // The contracts (schemas/) are the bottom layer: every other layer imports them, they import none, and
  // they do no I/O (write-docs.ts is the script that writes their README).
  {
    files: ['schemas/**/*.ts'],
    ignores: ['**/*.spec.ts', 'schemas/write-docs.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['kafkajs', '@clickhouse/client', 'fastify', 'node:fs', 'node:http', 'node:net', 'pino'].map(
            (name) => ({ name, message: 'schemas/ do no I/O: put this in an adapter (infra/)' }),
          ),
          patterns: [
            {
              group: [
                'kafkajs/*',
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
                '**/infra/kafka/**',
                '**/infra/registry/**',
                '**/infra/clickhouse/**',
                '**/infra/stack/**',
                '**/infra/errors',
                '**/runtime/**',
              ],
              message: 'the pure domain does no I/O: put this in an adapter (processors/runtime, infra/)',
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
