import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// Benchmarks (`./x bench`): the same browser and fixtures as the tests, one worker, no retries.
export default defineConfig({
  ...base,
  testDir: './bench',
  testMatch: '*.bench.ts',
  timeout: 600_000,
  workers: 1,
  fullyParallel: false,
});
