import AxeBuilder from '@axe-core/playwright';
import type { APIRequestContext, Page } from '@playwright/test';
import { clusterTest as test, expect, open, uniqueName, signIn, type Cluster } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

function deployment(name: string, image: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image, ports: [{ containerPort: 8080 }] }] } },
    },
  };
}

function deploy(refId: string, after: string[], namespace: string, image: string) {
  return {
    refId, requisiteStageRefIds: after, type: 'deployManifest', name: `Deploy to ${namespace}`,
    account: 'sim-1', namespaceOverride: namespace, manifests: [deployment('web', image)],
  };
}

async function call(request: APIRequestContext, endpoint: string, data: unknown) {
  const res = await request.post(`/api/${endpoint}`, { data });
  expect(res.ok(), `${endpoint}: ${await res.text()}`).toBeTruthy();
  return res.json();
}

/** An application deploying to `<app>-test` then `<app>-prod` on the simulated cluster, with:
 *  `deliver` (test → judgment → the same image to prod), `to-test` (a build of the image given)
 *  and `to-prod` (whatever image its trigger's artifact names). */
async function setUp(request: APIRequestContext, cluster: Cluster) {
  const app = uniqueName('env');
  for (const ns of [`${app}-test`, `${app}-prod`]) {
    expect((await cluster.request('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
  }
  await call(request, 'applications/create', {
    input: { name: app, ownerEmail: 'ops@example.com', team: 'shop', deployTargets: `sim-1/${app}-test\nsim-1/${app}-prod` },
  });
  const image = '${trigger.parameters.image}';
  const pipelines = [
    { name: 'deliver', stages: [
      deploy('1', [], `${app}-test`, image),
      { refId: '2', requisiteStageRefIds: ['1'], type: 'manualJudgment', name: 'Promote to prod?' },
      deploy('3', ['2'], `${app}-prod`, image),
    ] },
    { name: 'to-test', stages: [deploy('1', [], `${app}-test`, image)] },
    { name: 'to-prod', stages: [deploy('1', [], `${app}-prod`, 'registry.local/shop/web:placeholder')] },
  ];
  for (const p of pipelines) {
    await call(request, 'pipelines/save', {
      pipeline: { application: app, name: p.name, parameterConfig: [{ name: 'image', default: 'registry.local/shop/web:1.0' }], stages: p.stages },
    });
  }
  return app;
}

async function start(request: APIRequestContext, app: string, name: string, trigger: unknown): Promise<string> {
  return call(request, 'executions/start', { application: app, name, trigger });
}

function cell(page: Page, app: string, environment: string) {
  return page.locator(`tr[data-app="${app}"] td[data-environment="${environment}"]`);
}

test('the seed flow moves the image across the board live; Promote runs the right pipeline with the right artifact', async ({ page, request, cluster }) => {
  const app = await setUp(request, cluster);
  await open(page, `/environments?q=${app}`);
  const board = page.getByTestId('environments');
  await expect(board).toHaveAttribute('data-live', 'true');
  await expect(board.locator('thead th')).toHaveText(['Application', 'test', 'prod']);
  const [test_, prod] = [cell(page, app, 'test'), cell(page, app, 'prod')];
  await expect(test_).toContainText('not deployed');

  // Deploy to test: the cell fills in without a reload, with who deployed it.
  const id = await start(request, app, 'deliver', { type: 'manual', parameters: { image: 'registry.local/shop/web:1.0' } });
  await expect(test_).toHaveAttribute('data-health', 'healthy', { timeout: 20_000 });
  await expect(test_.locator('.workload[data-workload="web"]')).toContainText('2/2');
  await expect(test_.locator('.image')).toContainText('web:1.0 @');
  await expect(test_.locator('.deployed')).toContainText('deliver by admin');
  const digest = (await test_.locator('.image').innerText()).split('@')[1].trim();
  await expect(prod.getByTestId('promotion')).toContainText('test is 1 build ahead');

  // A person approves; the same digest reaches prod, live.
  const execution = await call(request, 'executions/get', { id });
  const judgment = execution.stages.find((s: any) => s.refId === '2');
  await expect.poll(async () => (await call(request, 'executions/get', { id })).stages.find((s: any) => s.refId === '2').status, { timeout: 20_000 }).toBe('RUNNING');
  await call(request, 'executions/judge', { id, stage_id: judgment.id, judgment: 'continue' });
  await expect(prod).toHaveAttribute('data-health', 'healthy', { timeout: 20_000 });
  await expect(prod.locator('.image')).toContainText(`@${digest}`);
  await expect(prod.getByTestId('promotion')).toHaveCount(0);

  // A new build in test: prod offers it; Promote opens the pipeline that deploys to prod.
  await start(request, app, 'to-test', { type: 'manual', parameters: { image: 'registry.local/shop/web:1.1' } });
  await expect(test_.locator('.image')).toContainText('web:1.1 @', { timeout: 20_000 });
  const newer = (await test_.locator('.image').innerText()).split('@')[1].trim();
  expect(newer).not.toBe(digest);
  await expect(prod.getByTestId('promotion')).toContainText('test is 1 build ahead');
  await prod.getByRole('button', { name: 'Promote' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Promote to prod?' });
  await expect(dialog).toContainText('registry.local/shop/web:1.1');
  await expect(dialog.getByRole('radio', { name: 'to-prod' })).toBeChecked();
  await expect(dialog).toContainText('runs Deploy to');
  const axe = await new AxeBuilder({ page }).include('[data-testid="environments"]').withTags(['wcag2a', 'wcag2aa']).analyze();
  expect(axe.violations, JSON.stringify(axe.violations, null, 2)).toEqual([]);
  await dialog.getByRole('button', { name: 'Start promotion' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/${app}/executions/`));
  await expect(page.locator('article.execution')).toHaveAttribute('data-status', 'SUCCEEDED', { timeout: 30_000 });
  const promoted = await call(request, 'executions/get', { id: page.url().split('/').pop() });
  expect(promoted.name).toBe('to-prod');
  expect(promoted.trigger.artifacts[0].reference).toBe('registry.local/shop/web:1.1');
  await open(page, `/environments?q=${app}`);
  await expect(prod.locator('.image')).toContainText(`@${newer}`);
  await expect(prod.getByTestId('promotion')).toHaveCount(0);

  // The application's path of that build: test, then prod; and its metrics.
  await open(page, `/applications/${app}/delivery`);
  const paths = page.locator('li.path');
  await expect(paths).toHaveCount(2);
  await expect(paths.first().locator('ol.arrivals > li')).toHaveText([/^test/, /^prod/]);
  await expect(paths.first()).toContainText('Runs now in test, prod');
  await expect(page.getByTestId('metrics').locator('[data-metric="failure-rate"]')).toHaveText('0 %');
  // From the first run's page: "Show this image's path" marks that build's path.
  await open(page, `/applications/${app}/executions/${id}`);
  await page.getByRole('link', { name: "Show this image's path" }).click();
  await expect(page.locator('li.path.marked')).toHaveAttribute('data-build', 'registry.local/shop/web:1.0');
  await expect(page.locator('li.path.marked ol.arrivals > li')).toHaveText([/^test/, /^prod/]);
  // The applications list shows its status.
  await open(page, `/applications?q=${app}`);
  await expect(page.locator(`tr[data-app="${app}"] td.status`)).toHaveAttribute('data-health', 'healthy');
});

test('a crash loop turns its cell red with the reason; a change made in the cluster shows as drift', async ({ page, request, cluster }) => {
  const app = await setUp(request, cluster);
  await start(request, app, 'to-test', { type: 'manual' });
  await open(page, `/environments?q=${app}`);
  await expect(page.getByTestId('environments')).toHaveAttribute('data-live', 'true');
  const test_ = cell(page, app, 'test');
  await expect(test_).toHaveAttribute('data-health', 'healthy', { timeout: 20_000 });
  await expect(test_.getByTestId('drift')).toHaveCount(0);

  // kubectl set image, straight to the cluster: the cell says it drifted, naming the field.
  const patched = await cluster.request('PATCH', `/apis/apps/v1/namespaces/${app}-test/deployments/web`,
    { spec: { template: { spec: { containers: [{ name: 'main', image: 'registry.local/shop/web:hotfix', ports: [{ containerPort: 8080 }] }] } } } },
    'application/merge-patch+json');
  expect(patched.status, JSON.stringify(patched.body)).toBeLessThan(300);
  await expect(test_.getByTestId('drift')).toBeVisible({ timeout: 10_000 });
  await expect(test_.getByTestId('drift')).toHaveAttribute('title', 'spec.template.spec.containers[0].image');

  // A build that crash-loops: red, with the reason.
  await start(request, app, 'to-test', { type: 'manual', parameters: { image: 'registry.local/shop/web-crash:2' } });
  await expect(test_).toHaveAttribute('data-health', 'crash-looping', { timeout: 20_000 });
  await expect(test_.locator('.reason')).toContainText('CrashLoopBackOff');
  await expect(page.locator(`tr[data-app="${app}"] th .health`)).toHaveClass(/crash-looping/);
  // Sorted by health, the crash-looping application comes first.
  await page.getByLabel('Sort the board').selectOption('health');
  await expect(page).toHaveURL(/sort=health/);
});
