// Jest runs the TypeScript sources as native ESM (node --experimental-vm-modules), transformed by swc
// with the same settings as the build (.swcrc), so decorator metadata and path aliases agree.
import { readFileSync } from 'node:fs';

const swc = JSON.parse(readFileSync(new URL('./.swcrc', import.meta.url), 'utf8'));
delete swc.$schema;

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }] },
  moduleNameMapper: {
    '^@callgate/([a-z-]+)$': '<rootDir>/libs/$1/src/index.ts',
    '^@callgate/([a-z-]+)/([a-z-]+)$': '<rootDir>/libs/$1/src/$2/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts', '<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
  // dist/sdk-package/package.json (npm run build:sdk-package) repeats libs/embed-sdk's package name
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};
