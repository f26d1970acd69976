import { test as base, expect, type Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A running Topsail: its address, data directory, and the first admin's password. */
export type Topsail = {
  url: string;
  dataDir: string;
  adminPassword: string;
  stop: () => Promise<void>;
  /** SIGKILL: no chance to finish anything. */
  kill: () => Promise<void>;
};

/**
 * Spawns `bin` and waits (up to 30 s) until what it writes on `stream` matches `pattern`;
 * returns the process and the match. A process that exits first fails with what it wrote.
 */
async function spawnUntil(
  what: string,
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stream: 'stdout' | 'stderr',
  pattern: RegExp,
): Promise<{ proc: ChildProcess; match: RegExpMatchArray }> {
  const proc = spawn(bin, args, {
    env,
    stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'ignore', stream === 'stderr' ? 'pipe' : 'ignore'],
  });
  let out = '';
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 30 s:\n${out}`)), 30_000);
    proc[stream]!.on('data', (chunk) => {
      out += chunk;
      const m = out.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${out}`));
    });
  });
  return { proc, match };
}

/** Stops a process started by `spawnUntil` and removes its directory. */
async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals, dir: string) {
  // A process ended by a signal has no exit code, but a signal code.
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `topsail serve` on a free port with its own data directory and waits until it listens.
 * A replica joining a database that has users already writes no first password: pass the one
 * the first replica wrote.
 */
export async function startTopsail(extraEnv: Record<string, string> = {}, options: { adminPassword?: string } = {}): Promise<Topsail> {
  const bin = process.env.TOPSAIL_BIN;
  if (!bin) throw new Error('TOPSAIL_BIN must name the topsail binary (./x test sets it)');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-e2e-'));
  const { proc, match } = await spawnUntil(
    'topsail',
    bin,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    { ...process.env, TOPSAIL_LOG: 'info', TOPSAIL_LOG_FORMAT: 'human', ...extraEnv },
    'stderr',
    /listening on (http:\/\/[0-9.:]+)/,
  );
  const url = match[1];
  const stop = () => stopProcess(proc, 'SIGTERM', dataDir);
  const kill = () => stopProcess(proc, 'SIGKILL', dataDir);
  try {
    const adminPassword = options.adminPassword ?? (await readAdminPassword(dataDir));
    return { url, dataDir, adminPassword, stop, kill };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * The first admin's password, which Topsail writes to `<dataDir>/initial-admin-password` at its
 * first start: polled for until it is there (up to 10 s).
 */
async function readAdminPassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'initial-admin-password');
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const password = fs.readFileSync(file, 'utf8').trim();
      if (password) return password;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (Date.now() > deadline) throw new Error(`Topsail did not write ${file} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Signs `page`'s browser context in (its pages and its API requests share the session cookie).
 * Its requests carry the site's `Origin` from then on, as the browser's own do: Topsail refuses
 * state changes with a session cookie from anywhere else.
 */
export async function signIn(page: Page, topsail: Topsail, username = 'admin', password = topsail.adminPassword) {
  await page.context().setExtraHTTPHeaders({ origin: topsail.url });
  const res = await page.request.post(topsail.url + '/auth/login', { data: { username, password } });
  expect(res.status(), `signing in as ${username}`).toBe(204);
}

export type Cluster = {
  url: string;
  token: string;
  kubeconfig: string;
  /** Sends a request to the simulated cluster's API, as kubectl would. */
  request: (method: string, path: string, body?: unknown, contentType?: string) => Promise<{ status: number; body: any }>;
  stop: () => Promise<void>;
};

/** Starts the Kubernetes simulator (one cluster) and reads the kubeconfig it writes. */
export async function startCluster(): Promise<Cluster> {
  const bin = process.env.SIMULATOR_BIN;
  if (!bin) throw new Error('SIMULATOR_BIN must name the kubernetes-simulator binary (./x test sets it)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-sim-'));
  const kubeconfig = path.join(dir, 'kubeconfig.yaml');
  const { proc, match } = await spawnUntil(
    'the simulator',
    bin,
    ['--kubeconfig', kubeconfig, '--pod-ready-ms', '700'],
    process.env,
    'stdout',
    /sim-1 (http:\/\/[0-9.:]+)[\s\S]*kubeconfig /,
  );
  const url = match[1];
  const token = fs.readFileSync(kubeconfig, 'utf8').match(/token: (\S+)/)![1];
  const request = async (method: string, p: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(url + p, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any = text;
    try { parsed = JSON.parse(text); } catch {}
    return { status: res.status, body: parsed };
  };
  const stop = () => stopProcess(proc, 'SIGINT', dir);
  return { url, token, kubeconfig, request, stop };
}

export type Jenkins = { url: string; stop: () => Promise<void> };

/** Starts the Jenkins emulator with `script` (see end2end/jenkins-emulator/README.md). */
export async function startJenkins(script: unknown): Promise<Jenkins> {
  const bin = process.env.JENKINS_BIN;
  if (!bin) throw new Error('JENKINS_BIN must name the jenkins-emulator binary (./x test sets it)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-jenkins-'));
  const file = path.join(dir, 'script.json');
  fs.writeFileSync(file, JSON.stringify(script));
  const { proc, match } = await spawnUntil('the Jenkins emulator', bin, ['--script', file], process.env, 'stdout', /url (http:\/\/\S+)/);
  const url = match[1];
  const stop = () => stopProcess(proc, 'SIGINT', dir);
  return { url, stop };
}

/** Writes a Topsail configuration file (TOML) into a fresh directory; returns its path. */
export function configFile(toml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-config-'));
  const file = path.join(dir, 'topsail.toml');
  fs.writeFileSync(file, toml);
  return file;
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
  // API calls go with the page's session (see `signIn`).
  request: async ({ page }, use) => use(page.request),
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

/** A Topsail whose Kubernetes account `sim-1` is a simulated cluster, one per worker. */
export const clusterTest = base.extend<{ cluster: Cluster; topsail: Topsail }, { workerCluster: Cluster; workerTopsail: Topsail }>({
  workerCluster: [
    async ({}, use) => {
      const c = await startCluster();
      await use(c);
      await c.stop();
    },
    { scope: 'worker' },
  ],
  workerTopsail: [
    async ({ workerCluster }, use) => {
      const t = await startTopsail({ TOPSAIL_KUBECONFIG: workerCluster.kubeconfig });
      await use(t);
      await t.stop();
    },
    { scope: 'worker' },
  ],
  cluster: async ({ workerCluster }, use) => use(workerCluster),
  topsail: async ({ workerTopsail }, use) => use(workerTopsail),
  baseURL: async ({ topsail }, use) => use(topsail.url),
  request: async ({ page }, use) => use(page.request),
});

export { expect };

export type OidcTestUser = {
  sub: string;
  username: string;
  password: string;
  email?: string;
  groups?: string[];
};

export type OidcProvider = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Lets the client `topsail` use `url` as a redirect URI (call it once Topsail listens). */
  setRedirectUri: (url: string) => Promise<void>;
  stop: () => Promise<void>;
};

/**
 * Starts a real OpenID provider (end2end/oidc/provider.mjs, the npm package oidc-provider) on a
 * free port with one client, `topsail`, and `users`; its login page is a form with `login` and
 * `password`. See the script for what it serves.
 */
export async function startOidcProvider(users: OidcTestUser[]): Promise<OidcProvider> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-oidc-'));
  const usersFile = path.join(dir, 'users.json');
  fs.writeFileSync(usersFile, JSON.stringify(users));
  const clientSecret = globalThis.crypto.randomUUID();
  const script = path.join(__dirname, '..', 'oidc', 'provider.mjs');
  const proc = spawn(process.execPath, [script, '--client-secret', clientSecret, '--users', usersFile], {
    env: process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });

  // stdout is a protocol of lines; stderr is kept to explain a failure.
  let stderr = '';
  let partial = '';
  const lines: string[] = [];
  let wake = () => {};
  proc.stderr!.on('data', (chunk) => (stderr += chunk));
  proc.stdout!.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    wake();
  });
  proc.on('exit', () => wake());
  const nextLine = async (what: string): Promise<string> => {
    const deadline = Date.now() + 30_000;
    while (lines.length === 0) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`the OpenID provider exited (${proc.exitCode ?? proc.signalCode}) before ${what}:\n${stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`the OpenID provider did not ${what} within 30 s:\n${stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return lines.shift()!;
  };

  const first = await nextLine('start');
  const issuer = first.match(/^issuer (http:\/\/\S+)$/)?.[1];
  if (!issuer) throw new Error(`the OpenID provider said ${JSON.stringify(first)} instead of its issuer:\n${stderr}`);

  const setRedirectUri = async (url: string) => {
    proc.stdin!.write(`redirect-uri ${url}\n`);
    const answer = await nextLine('accept the redirect URI');
    if (answer !== 'redirect-uri set') throw new Error(`the OpenID provider refused ${url}: ${answer}\n${stderr}`);
  };
  const stop = () => stopProcess(proc, 'SIGTERM', dir);
  return { issuer, clientId: 'topsail', clientSecret, setRedirectUri, stop };
}

/** A fresh PostgreSQL database on the test server (`TOPSAIL_TEST_POSTGRES_URL`, as `./x test` sets it). */
export function createPostgresDatabase(): { url: string; drop: () => void } {
  const admin = process.env.TOPSAIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `topsail_e2e_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e9).toString(36)}`;
  execFileSync('psql', [admin, '-q', '-c', `CREATE DATABASE ${name}`]);
  return {
    url: admin.replace(/\/[^/]*$/, `/${name}`),
    drop: () => execFileSync('psql', [admin, '-q', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]),
  };
}

export type Proxy = { url: string; stop: () => Promise<void> };

/**
 * Debian's nginx with `deploy/nginx.conf`, templated only for ports: it listens on a free port
 * and its upstream is `replicas` (round robin). Every answer says which replica gave it
 * (`X-Served-By`, added by the surrounding test configuration, not by the shipped file).
 */
export async function startNginx(replicas: string[]): Promise<Proxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-nginx-'));
  // nginx's workers run as an unprivileged user when the tests run as root: let them in.
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const shipped = fs.readFileSync(path.join(__dirname, '../../deploy/nginx.conf'), 'utf8');
  const servers = replicas.map((r) => `server ${new URL(r).host};`).join('\n    ');
  const conf = shipped.replace(/server 127\.0\.0\.1:3000;/, servers).replace(/listen 80;/, `listen 127.0.0.1:${port};`);
  if (conf === shipped) throw new Error('deploy/nginx.conf no longer has the lines the test templates');
  fs.writeFileSync(path.join(dir, 'topsail.conf'), conf);
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\n` +
      `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n` +
      `  add_header X-Served-By $upstream_addr always;\n  include ${dir}/topsail.conf;\n}\n`,
  );
  const nginx = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const proc = spawn(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fetch(`${url}/healthz`);
      break;
    } catch {
      if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
      if (Date.now() > deadline) throw new Error('nginx did not listen within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url, stop: () => stopProcess(proc, 'SIGTERM', dir) };
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}
