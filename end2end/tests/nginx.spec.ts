import { test } from '@playwright/test';
import { expect, open, uniqueName, signIn, startTopsail, startNginx, startCluster, configFile, createPostgresDatabase } from './fixtures';

// Topsail as the README runs it at scale: two replicas on PostgreSQL + Redis behind Debian's
// nginx with deploy/nginx.conf (templated only for ports). The execution page follows a run live
// through nginx; the replica serving its event stream is killed mid-run (SIGKILL); the page
// reconnects through nginx to the other replica, which finishes the run.
test('through nginx, a replica killed mid-run: the page reconnects and shows the run finish', async ({ browser }) => {
  test.setTimeout(120_000);
  const db = createPostgresDatabase();
  const env = {
    TOPSAIL_DATABASE_URL: db.url,
    TOPSAIL_REDIS_URL: process.env.TOPSAIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    TOPSAIL_REDIS_KEY_PREFIX: uniqueName('e2e-nginx'),
    // A message the killed replica was handling is handed to the other after a second.
    TOPSAIL_QUEUE_VISIBILITY_TIMEOUT_MS: '1000',
  };
  const a = await startTopsail(env);
  const b = await startTopsail(env, { adminPassword: a.adminPassword });
  const replicas = new Map([[new URL(a.url).host, a], [new URL(b.url).host, b]]);
  const proxy = await startNginx([a.url, b.url]);
  try {
    const context = await browser.newContext({ baseURL: proxy.url });
    const page = await context.newPage();
    await signIn(page, { ...a, url: proxy.url });
    const app = uniqueName('ha');
    const call = async (endpoint: string, data: unknown) => {
      const res = await page.request.post(`/api/${endpoint}`, { data });
      expect(res.ok(), `${endpoint}: ${await res.text()}`).toBeTruthy();
      return res.json();
    };
    await call('applications/create', { input: { name: app, ownerEmail: 'ops@example.com' } });
    await call('pipelines/save', {
      pipeline: {
        application: app, name: 'Slow', stages: [
          { refId: '1', type: 'wait', name: 'One', waitTime: 4 },
          { refId: '2', type: 'wait', name: 'Two', waitTime: 4, requisiteStageRefIds: ['1'] },
          { refId: '3', type: 'wait', name: 'Three', waitTime: 1, requisiteStageRefIds: ['2'] },
        ],
      },
    });
    const id: string = await call('executions/start', { application: app, name: 'Slow' });

    // The page's live stream, and which replica nginx sent it to.
    const streamed = page.waitForResponse((r) => r.url().includes(`/api/executions/stream?execution=${id}`));
    await open(page, `/applications/${app}/executions/${id}`);
    const servedBy = (await streamed).headers()['x-served-by'];
    const serving = replicas.get(servedBy);
    expect(serving, `the stream came from ${servedBy}`).toBeDefined();
    const node = (ref: string) => page.getByTestId('graph').locator(`g.node[data-stage="${ref}"]`);
    await expect(page.getByTestId('execution-page')).toHaveAttribute('data-live', 'true');
    await expect(node('1')).toHaveAttribute('data-status', 'RUNNING');

    // Kill the replica behind the stream, mid-run.
    const reconnected = page.waitForResponse((r) => r.url().includes(`/api/executions/stream?execution=${id}`));
    await serving!.kill();
    const survivor = [...replicas.entries()].find(([, r]) => r !== serving)![0];
    expect((await reconnected).headers()['x-served-by']).toBe(survivor);
    await expect(page.getByTestId('execution-page')).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
    for (const ref of ['1', '2', '3']) {
      await expect(node(ref)).toHaveAttribute('data-status', 'SUCCEEDED', { timeout: 30_000 });
    }
    // Still whole after the loss: the page reloads through nginx, from the survivor.
    await page.reload();
    await expect(node('3')).toHaveAttribute('data-status', 'SUCCEEDED');
    await context.close();
  } finally {
    await proxy.stop();
    await a.stop();
    await b.stop();
    db.drop();
  }
});

// With Redis, one replica watches the cluster and the other mirrors its cache. The Infrastructure
// tab follows the cluster through nginx; the replica holding the watch lease is killed; the other
// takes the lease over and the tab — served by whichever replica — keeps following the cluster.
test('through nginx, the cluster view stays live when the replica watching the cluster is killed', async ({ browser }) => {
  test.setTimeout(120_000);
  const db = createPostgresDatabase();
  const cluster = await startCluster();
  const env = {
    TOPSAIL_DATABASE_URL: db.url,
    TOPSAIL_REDIS_URL: process.env.TOPSAIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    TOPSAIL_REDIS_KEY_PREFIX: uniqueName('e2e-watch'),
    TOPSAIL_KUBECONFIG: cluster.kubeconfig,
    TOPSAIL_CONFIG: configFile('[kubernetes]\nwatch_lease_seconds = 2\n'),
  };
  const a = await startTopsail(env);
  const b = await startTopsail(env, { adminPassword: a.adminPassword });
  const proxy = await startNginx([a.url, b.url]);
  try {
    const context = await browser.newContext({ baseURL: proxy.url });
    const page = await context.newPage();
    await signIn(page, { ...a, url: proxy.url });
    const app = uniqueName('watched');
    expect((await cluster.request('POST', '/api/v1/namespaces', { metadata: { name: app } })).status).toBe(201);
    const created = await page.request.post('/api/applications/create', { data: { input: { name: app, ownerEmail: 'ops@example.com' } } });
    expect(created.ok(), await created.text()).toBeTruthy();
    const scale = async (replicas: number) => {
      const manifest = {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { 'app.kubernetes.io/name': app } },
        spec: {
          replicas, selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web', 'app.kubernetes.io/name': app } }, spec: { containers: [{ name: 'main', image: 'registry.local/web:1.0' }] } },
        },
      };
      const res = await cluster.request('PATCH', `/apis/apps/v1/namespaces/${app}/deployments/web?fieldManager=e2e&force=true`, manifest, 'application/apply-patch+yaml');
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    };
    await open(page, `/applications/${app}`);
    const tab = page.getByTestId('tab-infrastructure');
    await expect(tab).toHaveAttribute('data-live', 'true');
    await scale(2);
    const web = tab.locator('[data-cluster="web"]');
    await expect(web.locator('.pod.up')).toHaveCount(2);

    // Which replica watches (each says so in its own /metrics, which nginx does not serve).
    const watches = async (url: string) => /topsail_cluster_watch_held\{account="sim-1"\} 1/.test(await (await fetch(`${url}/metrics`)).text());
    const holder = (await watches(a.url)) ? a : b;
    const other = holder === a ? b : a;
    expect(await watches(other.url)).toBe(false);
    await holder.kill();
    await expect.poll(() => watches(other.url), { timeout: 15_000 }).toBe(true);
    await scale(4);
    await expect(web.locator('.pod.up')).toHaveCount(4, { timeout: 20_000 });
    // A reload through nginx (the survivor) shows the same.
    await page.reload();
    await expect(page.getByTestId('tab-infrastructure').locator('[data-cluster="web"] .pod.up')).toHaveCount(4);
    await context.close();
  } finally {
    await proxy.stop();
    await a.stop();
    await b.stop();
    await cluster.stop();
    db.drop();
  }
});
