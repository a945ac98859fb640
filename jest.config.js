// Two projects: unit tests need nothing running and finish in seconds; integration tests run against
// real Kafka, Schema Registry and ClickHouse, provisioned once by test/setup/global-setup.
const swc = [
  '@swc/jest',
  { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
];
module.exports = {
  // Integration tests wait on real services; unit tests have their own, short limit (test/setup/unit-timeout.ts).
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/**/*.unit.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.ciclo/'],
      transform: { '^.+\\.ts$': swc },
      testEnvironment: 'node',
      setupFilesAfterEnv: ['<rootDir>/test/setup/unit-timeout.ts'],
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/**/*.int.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.ciclo/'],
      transform: { '^.+\\.ts$': swc },
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
      setupFiles: ['<rootDir>/test/setup/load-services-env.ts'],
    },
  ],
};
