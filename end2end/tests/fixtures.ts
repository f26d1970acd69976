import { test as base, expect, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type Topsail = { url: string; dataDir: string; stop: () => Promise<void> };

/** Starts `topsail serve` on a free port with its own data directory and waits until it listens. */
export async function startTopsail(): Promise<Topsail> {
  const bin = process.env.TOPSAIL_BIN;
  if (!bin) throw new Error('TOPSAIL_BIN must name the topsail binary (./x test sets it)');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-e2e-'));
  const proc: ChildProcess = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, TOPSAIL_LOG: 'info', TOPSAIL_LOG_FORMAT: 'human' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`topsail did not start within 30 s:\n${log}`)), 30_000);
    proc.stderr!.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/listening on (http:\/\/[0-9.:]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`topsail exited with ${code}:\n${log}`));
    });
  });
  const stop = async () => {
    if (proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, dataDir, stop };
}

export const test = base.extend<{ topsail: Topsail }, { workerTopsail: Topsail }>({
  workerTopsail: [
    async ({}, use) => {
      const t = await startTopsail();
      await use(t);
      await t.stop();
    },
    { scope: 'worker' },
  ],
  // Tests share their worker's server; each makes its own uniquely named data.
  topsail: async ({ workerTopsail }, use) => use(workerTopsail),
  baseURL: async ({ topsail }, use) => use(topsail.url),
});

/** Opens a page and waits until the client has hydrated it (it is interactive). */
export async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
}

/** A fresh application name for this test. */
export function uniqueName(prefix: string) {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

export { expect };
