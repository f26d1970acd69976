import { test, expect, open, uniqueName, startTopsail, startJenkins, startCluster, configFile, signIn } from './fixtures';

const IMAGE = 'registry.local/shop/web@sha256:' + '4f0c1c3ee6a5b0f2'.repeat(4);

test('build the seed pipeline in the editor, run it, watch the graph, approve, and prod runs the tested image', async ({ browser }) => {
  test.setTimeout(120_000);
  const token = 'seed-e2e-token';
  const cluster = await startCluster();
  const jenkins = await startJenkins({
    users: [{ name: 'bot', token }],
    quietPeriodMs: 0,
    jobs: [{
      name: 'shop/build',
      parameters: [{ name: 'BRANCH', default: 'main' }],
      build: {
        // Long enough that a page opened under load still sees the build running.
        durationMs: 8000,
        console: ['Checking out ${BRANCH}', 'Building and pushing the image'],
        artifacts: [{ path: 'build.properties', content: `IMAGE_REF=${IMAGE}\n` }],
      },
    }],
  });
  const config = configFile(`[[jenkins.masters]]\nname = "ci"\naddress = "${jenkins.url}"\nusername = "bot"\ntoken_env = "SEED_JENKINS_TOKEN"\n`);
  const topsail = await startTopsail({ TOPSAIL_CONFIG: config, SEED_JENKINS_TOKEN: token, TOPSAIL_KUBECONFIG: cluster.kubeconfig });
  try {
    const context = await browser.newContext({ baseURL: topsail.url });
    const page = await context.newPage();
    await signIn(page, topsail);
    const app = uniqueName('seed');
    await context.request.post('/api/applications/create', { data: { input: { name: app, ownerEmail: 'ops@example.com' } } });
    for (const ns of [`${app}-test`, `${app}-prod`]) {
      expect((await cluster.request('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
    }

    // The template: four stages, with what is missing marked.
    await open(page, `/applications/${app}/pipelines`);
    await page.getByRole('link', { name: 'New pipeline from the seed template' }).click();
    const graph = page.getByTestId('editor-graph');
    await expect(graph.locator('g.node')).toHaveCount(4);
    await expect(graph.locator('g.node.invalid')).toHaveCount(3);
    await expect(page.getByRole('button', { name: 'Save' })).toBeDisabled();
    await page.getByLabel('Pipeline name').fill('Seed');
    const form = page.getByTestId('stage-form');
    await graph.locator('g.node[data-stage="1"]').click();
    await expect(form.locator('li[data-field="master"]')).toContainText('master is required');
    await form.getByLabel('Jenkins master').fill('ci');
    await form.getByLabel('Job').fill('shop/build');
    await expect(form.locator('li[data-field="master"]')).toHaveCount(0);
    for (const ref of ['2', '4']) {
      await graph.locator(`g.node[data-stage="${ref}"]`).click();
      await expect(form).toHaveAttribute('data-stage', ref);
      await form.getByLabel('Account').fill('sim-1');
    }
    await expect(graph.locator('g.node.invalid')).toHaveCount(0);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page).toHaveURL(new RegExp(`/pipelines/edit/Seed$`));

    // Run it from the Executions tab with the default branch.
    await open(page, `/applications/${app}/executions`);
    await page.getByLabel('Pipeline to start').selectOption('Seed');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('article.execution a.execution-link').first().click();
    await expect(page.getByTestId('execution-page')).toBeVisible();
    await page.evaluate(() => ((window as any).__stayed = true));
    const live = page.getByTestId('graph');
    const node = (ref: string) => live.locator(`g.node[data-stage="${ref}"]`);
    await expect(node('1')).toHaveAttribute('data-status', 'RUNNING', { timeout: 15_000 });
    await expect(page.getByTestId('console')).toContainText('Checking out main', { timeout: 15_000 });
    await expect(node('3')).toHaveAttribute('data-status', 'RUNNING', { timeout: 30_000 });
    await expect(node('1')).toHaveAttribute('data-status', 'SUCCEEDED');
    await expect(node('2')).toHaveAttribute('data-status', 'SUCCEEDED');
    await expect(node('4')).toHaveAttribute('data-status', 'NOT_STARTED');

    const image = async (ns: string) => {
      const r = await cluster.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/${app}`);
      return r.status === 200 ? r.body.spec.template.spec.containers[0].image : null;
    };
    expect(await image(`${app}-test`)).toBe(IMAGE);
    expect(await image(`${app}-prod`)).toBeNull();
    // The judgment panel says what approving would do in prod.
    const panel = page.getByTestId('judgment-panel');
    await expect(panel).toContainText('Check the test environment');
    await expect(panel.locator(`div.planned[data-object="deployment ${app}"]`)).toHaveAttribute('data-exists', 'false');
    await expect(panel).toContainText('it will be created');

    // Approve; prod gets the very image that was tested, without a reload.
    await page.locator('tr[data-stage="3"]').getByRole('button', { name: 'Continue' }).click();
    await expect(node('4')).toHaveAttribute('data-status', 'SUCCEEDED', { timeout: 30_000 });
    await expect(page.locator('article.execution')).toHaveAttribute('data-status', 'SUCCEEDED');
    expect(await image(`${app}-prod`)).toBe(IMAGE);
    // The prod deploy's details show its rollout: desired / updated / ready / available, pods.
    await node('4').click();
    const progress = page.getByTestId('stage-details').locator(`.deploy-progress[data-object="deployment ${app}"] .progress`);
    await expect(progress).toHaveAttribute('data-desired', '2');
    await expect(progress).toHaveAttribute('data-ready', '2', { timeout: 15_000 });
    await expect(page.getByTestId('stage-details').locator('.deploy-progress .pod')).toHaveCount(2);
    expect(await page.evaluate(() => (window as any).__stayed)).toBe(true);
    await context.close();
  } finally {
    await topsail.stop();
    await jenkins.stop();
    await cluster.stop();
  }
});
