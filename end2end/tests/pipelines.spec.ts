import { test, expect, open, uniqueName, signIn } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

test('the Pipelines tab lists saved pipelines with their versions', async ({ page, request }) => {
  const name = uniqueName('pipes');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  await open(page, `/applications/${name}/pipelines`);
  await expect(page.getByTestId('tab-pipelines')).toContainText('has no pipelines yet');

  const pipeline = {
    application: name,
    name: 'Deploy',
    stages: [{ refId: '1', type: 'wait', name: 'Settle', waitTime: 1 }],
  };
  for (const waitTime of [1, 2]) {
    pipeline.stages[0].waitTime = waitTime;
    const res = await request.post('/api/pipelines/save', { data: { pipeline } });
    expect(res.status()).toBe(200);
  }
  await page.reload();
  const row = page.locator('tr[data-pipeline="Deploy"]');
  await expect(row).toContainText('v2');
  await expect(row).toContainText('admin');

  // An application with pipelines cannot be deleted; the reason is shown.
  await open(page, `/applications/${name}/config`);
  await page.getByLabel('Application name').fill(name);
  await page.getByRole('button', { name: 'Delete application' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'still has 1 pipeline(s)' })).toBeVisible();
});

test('start a pipeline, approve its judgment and watch it finish without reloading', async ({ page, request }) => {
  const name = uniqueName('run');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const pipeline = {
    application: name,
    name: 'Promote',
    stages: [
      { refId: '1', type: 'wait', name: 'Settle', waitTime: 0 },
      { refId: '2', type: 'manualJudgment', name: 'Verify', requisiteStageRefIds: ['1'], instructions: 'Look at test' },
      { refId: '3', type: 'wait', name: 'Deploy', requisiteStageRefIds: ['2'], waitTime: 1 },
    ],
  };
  expect((await request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);

  await open(page, `/applications/${name}/executions`);
  await expect(page.getByTestId('tab-executions')).toContainText('has run yet');
  await page.getByLabel('Pipeline to start').selectOption('Promote');
  await page.getByRole('button', { name: 'Start' }).click();

  const execution = page.locator('article.execution').first();
  const verify = execution.locator('li[data-stage="2"]');
  await expect(verify).toHaveAttribute('data-status', 'RUNNING');
  await expect(verify).toContainText('Look at test');
  await expect(execution.locator('li[data-stage="1"]')).toHaveAttribute('data-status', 'SUCCEEDED');
  await verify.getByRole('button', { name: 'Continue' }).click();
  await expect(execution).toHaveAttribute('data-status', 'SUCCEEDED', { timeout: 15_000 });
  await expect(execution.locator('li[data-stage="3"]')).toHaveAttribute('data-status', 'SUCCEEDED');

  // The Pipelines tab shows the run, and links to it.
  await page.getByRole('link', { name: 'Pipelines' }).click();
  const run = page.locator('tr[data-pipeline="Promote"] a.run');
  await expect(run).toHaveCount(1);
  await expect(run).toHaveAttribute('data-status', 'SUCCEEDED');
  await run.click();
  await expect(page.getByTestId('execution-page')).toBeVisible();
});

test('a stopped judgment fails the execution and says who stopped it', async ({ page, request }) => {
  const name = uniqueName('stop');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const pipeline = { application: name, name: 'Gate', stages: [{ refId: '1', type: 'manualJudgment', name: 'Verify' }] };
  await request.post('/api/pipelines/save', { data: { pipeline } });
  await open(page, `/applications/${name}/executions`);
  await page.getByLabel('Pipeline to start').selectOption('Gate');
  await page.getByRole('button', { name: 'Start' }).click();
  const execution = page.locator('article.execution').first();
  await execution.getByRole('button', { name: 'Stop' }).click();
  await expect(execution).toHaveAttribute('data-status', 'TERMINAL');
  await expect(execution.locator('li[data-stage="1"]')).toContainText('stopped by admin');
});

test('start with parameters, follow the execution page, restart a stopped stage, try expressions', async ({ page, request }) => {
  const name = uniqueName('params');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const pipeline = {
    application: name,
    name: 'Release',
    parameterConfig: [
      { name: 'env', label: 'Environment', required: true, hasOptions: true, options: [{ value: 'test' }, { value: 'prod' }] },
      { name: 'tag', default: '1.0', description: 'Image tag' },
    ],
    stages: [{ refId: '1', type: 'manualJudgment', name: 'Verify', instructions: 'Deploy ${parameters.tag}?' }],
  };
  expect((await request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);

  await open(page, `/applications/${name}/executions`);
  await page.getByLabel('Pipeline to start').selectOption('Release');
  await expect(page.getByLabel('tag')).toHaveValue('1.0');
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.locator('[data-field="parameters.env"]')).toHaveText("parameter 'env' is required");
  await page.getByLabel('Environment *').selectOption('prod');
  await page.getByRole('button', { name: 'Start' }).click();

  await page.locator('article.execution a.execution-link').first().click();
  await expect(page).toHaveURL(new RegExp(`/applications/${name}/executions/[0-9a-f-]+$`));
  await expect(page.getByRole('link', { name: 'Executions' })).toHaveAttribute('aria-current', 'page');
  const verify = page.locator('tr[data-stage="1"]');
  await expect(verify).toHaveAttribute('data-status', 'RUNNING');
  await expect(verify).toContainText('Deploy 1.0?');
  await expect(verify.locator('li[data-task="waitForJudgment"]')).toContainText('RUNNING');
  await verify.getByRole('button', { name: 'Stop' }).click();
  await expect(verify).toHaveAttribute('data-status', 'TERMINAL');
  await verify.getByRole('button', { name: 'Restart' }).click();
  await expect(verify).toHaveAttribute('data-status', 'RUNNING');
  await verify.getByRole('button', { name: 'Continue' }).click();
  await expect(page.locator('article.execution')).toHaveAttribute('data-status', 'SUCCEEDED');

  await page.getByLabel('Expression').fill('${trigger.parameters.env.toUpperCase()}');
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(page.getByTestId('expression-result')).toHaveText('"PROD"');
  await page.getByLabel('Expression').fill("T(java.lang.Runtime).getRuntime().exec('id')");
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(page.getByTestId('expression-result')).toHaveText('error: type references (T(...)) are not allowed');
  await page.reload();
  await expect(page.locator('article.execution')).toHaveAttribute('data-status', 'SUCCEEDED');
});

test('runs started and judged elsewhere appear on the open pages as they happen', async ({ page, request }) => {
  const name = uniqueName('live');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const pipeline = { application: name, name: 'Gate', stages: [{ refId: '1', type: 'manualJudgment', name: 'Verify' }] };
  expect((await request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);
  await open(page, `/applications/${name}/executions`);
  await expect(page.getByTestId('tab-executions')).toHaveAttribute('data-live', 'true');

  // Started by a script, not by this page: it shows up without a reload.
  const started = await request.post('/api/executions/start', { data: { application: name, name: 'Gate' } });
  expect(started.status()).toBe(200);
  const id = await started.json();
  const execution = page.locator(`article.execution[data-execution="${id}"]`);
  await expect(execution.locator('li[data-stage="1"]')).toHaveAttribute('data-status', 'RUNNING');

  await execution.locator('a.execution-link').click();
  await expect(page.getByTestId('execution-page')).toHaveAttribute('data-live', 'true');
  const run = await (await request.post('/api/executions/get', { data: { id } })).json();
  const judged = await request.post('/api/executions/judge', { data: { id, stage_id: run.stages[0].id, judgment: 'continue' } });
  expect(judged.status()).toBe(200);
  await expect(page.locator('article.execution')).toHaveAttribute('data-status', 'SUCCEEDED');
  await expect(page.locator('tr[data-stage="1"] [data-testid="judgment"]')).toHaveText('continue by admin');
});
