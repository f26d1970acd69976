import { clusterTest as test, expect, open, uniqueName, signIn, startTopsail, type Cluster } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

/** A Deployment labelled for the application, as a deploy would leave it. */
function deployment(app: string, name: string, image: string, replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { 'app.kubernetes.io/name': app } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, 'app.kubernetes.io/name': app } },
        spec: { containers: [{ name: 'main', image, ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

/** Server-side apply into a namespace of the simulated cluster, as `kubectl apply --server-side` does. */
async function apply(cluster: Cluster, namespace: string, manifest: any) {
  const plural = manifest.kind === 'Deployment' ? 'deployments' : 'services';
  const prefix = manifest.kind === 'Deployment' ? '/apis/apps/v1' : '/api/v1';
  const res = await cluster.request(
    'PATCH',
    `${prefix}/namespaces/${namespace}/${plural}/${manifest.metadata.name}?fieldManager=e2e&force=true`,
    manifest,
    'application/apply-patch+yaml',
  );
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
}

test('pods turn green live, scale and undo from the tab, a crash loop shows red with its reason', async ({ page, cluster, request }) => {
  const app = uniqueName('shop');
  const ns = app;
  expect((await cluster.request('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
  const created = await request.post('/api/applications/create', {
    data: { input: { name: app, ownerEmail: 'ops@example.com', team: 'shop', description: '' } },
  });
  expect(created.ok()).toBeTruthy();

  await open(page, `/applications/${app}`);
  const tab = page.getByTestId('tab-infrastructure');
  await expect(tab.locator('[data-account="sim-1"]')).toBeVisible();
  await expect(tab).toHaveAttribute('data-live', 'true');

  // Deploy a Deployment and a Service; the pods appear and turn green without a reload.
  await apply(cluster, ns, deployment(app, 'web', 'registry.local/web:1.0', 3));
  await apply(cluster, ns, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', labels: { 'app.kubernetes.io/name': app } },
    spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
  });
  const web = tab.locator('[data-cluster="web"]');
  await expect(web.locator('.pod')).toHaveCount(3);
  await expect(web.locator('.pod.up')).toHaveCount(3);
  await expect(web).toHaveAttribute('data-state', 'stable');
  await expect(tab.locator('[data-load-balancer="web"] .pod.up')).toHaveCount(3);

  // Scale to 5 from the tab: confirmed first, then a task with its result.
  await web.getByLabel('Replicas').fill('5');
  await web.getByRole('button', { name: 'Scale' }).click();
  await expect(page.getByRole('alertdialog')).toContainText('Scale deployment web to 5?');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.locator('.task[data-state="succeeded"]').first()).toHaveText('Scale deployment web to 5: done');
  await expect(web.locator('.pod.up')).toHaveCount(5);

  // A new image is revision 2; undo goes back to revision 1's image (as revision 3).
  await apply(cluster, ns, deployment(app, 'web', 'registry.local/web:2.0', 5));
  await expect(web.locator('[data-revision="2"] .pod.up')).toHaveCount(5);
  await expect(web.locator('.images').first()).toHaveText('registry.local/web:2.0');
  await web.getByRole('button', { name: 'Undo rollout' }).click();
  await expect(page.getByRole('alertdialog')).toContainText('Undo deployment web to revision 1?');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.locator('.task[data-state="succeeded"]').first()).toContainText('revision 1 is rolling out');
  await expect(web.locator('[data-revision="3"] .pod.up')).toHaveCount(5);
  await expect(web.locator('.images').first()).toHaveText('registry.local/web:1.0');

  // A crash-looping image: red squares whose title names the reason; details say so too.
  await apply(cluster, ns, deployment(app, 'worker', 'registry.local/crashloop:1', 1));
  const worker = tab.locator('[data-cluster="worker"]');
  const red = worker.locator('.pod.down');
  await expect(red).toHaveCount(1);
  await expect(red).toHaveAttribute('title', /CrashLoopBackOff/);
  await expect(worker).toHaveAttribute('data-state', 'failed');
  await expect(worker.locator('.cluster-message')).toContainText('CrashLoopBackOff');
  await red.click();
  const details = page.getByTestId('details');
  await expect(details).toContainText('BackOff');
  await expect(details.getByTestId('yaml')).toContainText('image: registry.local/crashloop:1');
  await details.getByRole('button', { name: 'Logs of main' }).click();
  await expect(details.getByTestId('logs')).toContainText('the image is marked to crash');

  // The selected object is in the address: a reload (or a shared link) opens it again, and
  // back/forward step between selections.
  await expect(page).toHaveURL(/[?&]kind=Pod(&|$)/);
  await expect(page).toHaveURL(/[?&]account=sim-1(&|$)/);
  await page.reload();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByTestId('details')).toContainText('BackOff');
  await page.getByTestId('details').getByRole('button', { name: 'Close' }).click();
  await expect(page.getByTestId('details')).toHaveCount(0);
  await expect(page).not.toHaveURL(/kind=/);
  await page.goBack();
  await expect(page.getByTestId('details')).toContainText('BackOff');

  // The previous instance (what it said before the restart), follow mode, and a download.
  await details.getByRole('button', { name: 'Logs of main' }).click();
  await details.getByLabel('Previous container').check();
  await expect(details.getByTestId('logs')).toContainText(/start #\d+: the image is marked to crash/);
  const reads: string[] = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/infrastructure/logs')) reads.push(r.url()); });
  await details.getByLabel('Follow').check();
  await expect.poll(() => reads.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
  await details.getByLabel('Follow').uncheck();
  const downloading = page.waitForEvent('download');
  await details.getByRole('link', { name: 'Download' }).click();
  const file = await downloading;
  expect(file.suggestedFilename()).toMatch(/^worker-[a-z0-9-]+-main-previous\.log$/);
  const fs = await import('node:fs');
  expect(fs.readFileSync(await file.path(), 'utf8')).toContain('the image is marked to crash');
  await details.getByLabel('Previous container').uncheck();
});

test('account and namespace fields suggest the configured accounts and the deploy targets', async ({ page, request }) => {
  const app = uniqueName('pick');
  const created = await request.post('/api/applications/create', {
    data: { input: { name: app, ownerEmail: 'ops@example.com', deployTargets: 'sim-1/shop-test\nsim-1/shop-prod' } },
  });
  expect(created.ok(), await created.text()).toBeTruthy();
  await open(page, `/applications/${app}/pipelines/new`);
  await page.getByTestId('editor-graph').locator('g.node[data-stage="2"]').click();
  const form = page.getByTestId('stage-form');
  await expect(form.getByLabel('Account')).toHaveAttribute('list', 'picker-accounts');
  await expect(page.locator('datalist#picker-accounts option[value="sim-1"]')).toBeAttached();
  await expect(page.locator('datalist#picker-namespaces option[value="shop-test"]')).toBeAttached();
  await expect(page.locator('datalist#picker-namespaces option[value="shop-prod"]')).toBeAttached();
  // Free text (an expression) is still accepted.
  await form.getByLabel('Account').fill('${parameters.account}');
  await expect(form.getByLabel('Account')).toHaveValue('${parameters.account}');
});

test('the first run shows the clusters Topsail found; Integrations lists them with their health', async ({ browser, cluster }) => {
  const own = await startTopsail({ TOPSAIL_KUBECONFIG: cluster.kubeconfig });
  try {
    const page = await browser.newPage({ baseURL: own.url });
    await signIn(page, own);
    await open(page, '/applications');
    const step = page.getByTestId('no-applications').locator('[data-step="cluster"]');
    await expect(step).toContainText('1 Kubernetes account found');
    await expect(step.locator('[data-account="sim-1"]')).toContainText('reachable');
    await open(page, '/integrations');
    const row = page.locator('tr[data-integration="sim-1"]');
    await expect(row).toContainText('kubernetes');
    await expect(row).toHaveAttribute('data-healthy', 'true');
    await page.close();
  } finally {
    await own.stop();
  }
});
