import { test, expect, open, uniqueName, signIn } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

test('edit as JSON round trip, history diff and restore, and a warning before leaving unsaved changes', async ({ page, request }) => {
  const name = uniqueName('edit');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  await open(page, `/applications/${name}/pipelines`);
  await page.getByRole('link', { name: 'New blank pipeline' }).click();
  const editor = page.getByTestId('pipeline-editor');
  await expect(editor).toBeVisible();
  await expect(page.getByTestId('version')).toContainText('not saved yet');
  await page.getByLabel('Pipeline name').fill('Release');

  // Two stages, the second after the first, through the graph and the forms.
  await page.getByRole('button', { name: 'Add stage' }).click();
  const form = page.getByTestId('stage-form');
  await expect(form).toHaveAttribute('data-stage', '1');
  await form.getByLabel('Wait (seconds)').fill('soon');
  await expect(form.locator('.field-error[data-field="waitTime"]')).toHaveText('Wait (seconds): must be a whole number (or an expression)');
  await form.getByLabel('Wait (seconds)').fill('5');
  await expect(form.locator('.field-error[data-field="waitTime"]')).toHaveText('');
  await page.getByLabel('New stage').selectOption('manualJudgment');
  await page.getByRole('button', { name: 'Add after the selected stage' }).click();
  await expect(form).toHaveAttribute('data-stage', '2');
  await form.getByLabel('Name').fill('Approve');
  await form.getByLabel('Instructions').fill('Look at the dashboards');
  await expect(page.getByTestId('editor-graph').locator('path.edge[data-from="1"][data-to="2"]')).toHaveCount(1);

  await page.getByRole('button', { name: 'Save' }).click();
  // A new pipeline's editor moves to its own address once saved.
  await expect(page).toHaveURL(new RegExp(`/applications/${name}/pipelines/edit/Release$`));
  await expect(page.getByTestId('version')).toHaveText('version 1');
  await expect(editor).toHaveAttribute('data-dirty', 'false');

  // Edit as JSON: change the instructions and add a field the forms do not know; save.
  await page.getByRole('button', { name: 'Edit as JSON' }).click();
  const json = page.getByLabel('Pipeline JSON');
  const doc = JSON.parse(await json.inputValue());
  doc.stages[1].instructions = 'Check the error rate';
  doc.somethingNew = { kept: true };
  await json.fill('{ not json');
  await expect(page.getByTestId('json-error')).toContainText('not valid JSON');
  await expect(page.getByRole('button', { name: 'Apply JSON' })).toBeDisabled();
  await json.fill(JSON.stringify(doc, null, 2));
  await page.getByRole('button', { name: 'Apply JSON' }).click();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved as version 2.');
  const saved = await (await request.post('/api/pipelines/get', { data: { application: name, name: 'Release' } })).json();
  expect(saved.document.stages[1].instructions).toBe('Check the error rate');
  expect(saved.document.somethingNew).toEqual({ kept: true });
  expect(saved.summary.version).toBe(2);

  // History: the change between v1 and v2, then restore v1.
  await page.getByRole('button', { name: 'History' }).click();
  const v2 = page.locator('tr[data-version="2"]');
  await v2.getByRole('button', { name: 'Changes' }).click();
  const diff = page.getByTestId('diff');
  await expect(diff.locator('tr[data-path="stages[refId=2].instructions"] .before')).toContainText('Look at the dashboards');
  await expect(diff.locator('tr[data-path="stages[refId=2].instructions"] .after')).toContainText('Check the error rate');
  await expect(diff.locator('tr[data-path="somethingNew"]')).toHaveCount(1);
  await page.locator('tr[data-version="1"]').getByRole('button', { name: 'Restore' }).click();
  await expect(page.getByRole('status')).toHaveText('Version 1 restored as version 3.');
  await expect(page.locator('tr[data-version="3"]')).toHaveCount(1);
  const restored = await (await request.post('/api/pipelines/get', { data: { application: name, name: 'Release' } })).json();
  expect(restored.document.stages[1].instructions).toBe('Look at the dashboards');
  expect(restored.document.somethingNew).toBeUndefined();

  // An unsaved change asks before the page goes away.
  await page.getByRole('button', { name: 'Stages' }).click();
  await page.getByLabel('Pipeline name').fill('Release 2');
  await expect(editor).toHaveAttribute('data-dirty', 'true');
  let asked = false;
  page.once('dialog', async (dialog) => {
    asked = dialog.type() === 'beforeunload';
    await dialog.dismiss();
  });
  await page.reload({ timeout: 3000 }).catch(() => {});
  await expect.poll(() => asked).toBe(true);
});

test('the Pipelines tab shows runs as stage bars with filters, and the start form checks parameters first', async ({ page, request }) => {
  const name = uniqueName('bars');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const pipeline = {
    application: name,
    name: 'Gate',
    parameterConfig: [{ name: 'ticket', required: true, description: 'Change ticket' }],
    stages: [
      { refId: '1', type: 'wait', name: 'Settle', waitTime: 0 },
      { refId: '2', type: 'checkPreconditions', name: 'Check', requisiteStageRefIds: ['1'],
        preconditions: [{ type: 'expression', context: { expression: "${trigger.parameters.ticket != 'bad'}" } }] },
    ],
  };
  expect((await request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);
  for (const ticket of ['OK-1', 'bad']) {
    const r = await request.post('/api/executions/start', { data: { application: name, name: 'Gate', trigger: { type: 'manual', parameters: { ticket } } } });
    expect(r.status()).toBe(200);
  }
  await open(page, `/applications/${name}/pipelines`);
  const runs = page.locator('tr[data-pipeline="Gate"] a.run-bar');
  await expect(runs).toHaveCount(2);
  await expect(page.locator('tr[data-pipeline="Gate"] a.run-bar[data-status="TERMINAL"] .seg')).toHaveCount(2);
  await expect(page.locator('tr[data-pipeline="Gate"] a.run-bar[data-status="SUCCEEDED"]')).toHaveCount(1, { timeout: 15_000 });
  await page.getByLabel('Show runs with status').selectOption('failed');
  await expect(runs).toHaveCount(1);
  await expect(runs.first()).toHaveAttribute('data-status', 'TERMINAL');
  await page.getByLabel('Show runs with status').selectOption('');
  await page.getByLabel('Show runs started by').selectOption('webhook');
  await expect(runs).toHaveCount(0);
  await page.getByLabel('Show runs started by').selectOption('manual');
  await expect(runs).toHaveCount(2);

  // Start (from the Pipelines tab) opens the form on that pipeline; it refuses a missing
  // required parameter before starting anything.
  await page.locator('tr[data-pipeline="Gate"]').getByRole('link', { name: 'Start' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/${name}/executions\\?start=Gate$`));
  await expect(page.getByLabel('Pipeline to start')).toHaveValue('Gate');
  await expect(page.getByLabel('ticket *')).toBeVisible();
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.locator('[data-field="parameters.ticket"]')).toHaveText("parameter 'ticket' is required");
  const list = await (await request.post('/api/executions/list', { data: { application: name } })).json();
  expect(list.length).toBe(2);
  await page.getByLabel('ticket *').fill('OK-2');
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.locator('article.execution')).toHaveCount(3);
});

test('triggers, parameters and notifications are edited in Spinnaker shape', async ({ page, request }) => {
  const name = uniqueName('lists');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  await open(page, `/applications/${name}/pipelines/new?template=blank&pipelineName=Nightly`);
  await page.getByRole('button', { name: 'Add stage' }).click();

  await page.getByRole('button', { name: 'Triggers' }).click();
  const triggers = page.getByTestId('panel-triggers');
  await triggers.getByLabel('Type').selectOption('jenkins');
  await triggers.getByRole('button', { name: 'Add trigger' }).click();
  const jenkins = triggers.locator('article[data-entry="triggers-0"]');
  await jenkins.getByLabel('Jenkins master').fill('ci');
  await jenkins.getByLabel('Job').fill('team/build');
  await triggers.getByLabel('Type').selectOption('cron');
  await triggers.getByRole('button', { name: 'Add trigger' }).click();
  const cron = triggers.locator('article[data-entry="triggers-1"]');
  await cron.getByLabel('Cron expression').fill('every day');
  // The save is refused with the problem named (cron is checked by the server).
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('alert')).toContainText("cronExpression 'every day' is not a valid cron expression");
  await cron.getByLabel('Cron expression').fill('0 0 2 * * ?');
  await cron.getByLabel('Enabled').uncheck();

  await page.getByRole('button', { name: 'Parameters' }).click();
  const params = page.getByTestId('panel-parameterConfig');
  await params.getByRole('button', { name: 'Add parameter' }).click();
  const p0 = params.locator('article[data-entry="parameterConfig-0"]');
  await p0.getByLabel('Name').fill('region');
  await p0.getByLabel('Default').fill('eu');
  await p0.getByLabel('Options').fill('eu, us');
  await p0.getByLabel('Required').check();

  await page.getByRole('button', { name: 'Notifications' }).click();
  const notes = page.getByTestId('panel-notifications');
  await notes.getByLabel('Type').selectOption('slack');
  await notes.getByRole('button', { name: 'Add notification' }).click();
  const n0 = notes.locator('article[data-entry="notifications-0"]');
  await n0.getByLabel('Address').fill('https://hooks.example.com/T0/B0/secret');
  await n0.locator('input[data-event="pipeline.complete"]').check();

  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/pipelines\/edit\/Nightly$/);
  const saved = (await (await request.post('/api/pipelines/get', { data: { application: name, name: 'Nightly' } })).json()).document;
  expect(saved.triggers).toEqual([
    { type: 'jenkins', enabled: true, master: 'ci', job: 'team/build' },
    { type: 'cron', enabled: false, cronExpression: '0 0 2 * * ?' },
  ]);
  expect(saved.parameterConfig).toEqual([
    { name: 'region', default: 'eu', required: true, options: [{ value: 'eu' }, { value: 'us' }], hasOptions: true },
  ]);
  // A chat webhook's path is its secret: stored, but shown as its host only.
  expect(saved.notifications).toEqual([
    { type: 'slack', address: 'https://hooks.example.com/…', when: ['pipeline.failed', 'pipeline.complete'] },
  ]);
});

test('a save based on a version someone replaced meanwhile shows who and what changed, and can overwrite', async ({ page, request }) => {
  const name = uniqueName('stale');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const first = await request.post('/api/pipelines/save', {
    data: { pipeline: { application: name, name: 'Release', stages: [{ refId: '1', type: 'wait', name: 'Wait', waitTime: 5 }] } },
  });
  expect(first.status()).toBe(200);
  await open(page, `/applications/${name}/pipelines/edit/Release`);
  await expect(page.getByTestId('version')).toHaveText('version 1');

  // Someone else saves a change based on the same version, as a script would.
  const loaded = await (await request.post('/api/pipelines/get', { data: { application: name, name: 'Release' } })).json();
  loaded.document.stages[0].waitTime = 30;
  expect((await request.post('/api/pipelines/save', { data: { pipeline: loaded.document } })).status()).toBe(200);

  // Here, an edit of the version this editor loaded.
  const editJson = async (change: (doc: any) => void) => {
    await page.getByRole('button', { name: 'Edit as JSON' }).click();
    const json = page.getByLabel('Pipeline JSON');
    const doc = JSON.parse(await json.inputValue());
    change(doc);
    await json.fill(JSON.stringify(doc, null, 2));
    await page.getByRole('button', { name: 'Apply JSON' }).click();
  };
  await editJson((doc) => { doc.description = 'mine'; });
  await page.getByRole('button', { name: 'Save' }).click();
  const conflict = page.getByTestId('save-conflict');
  await expect(conflict).toContainText(/was changed by \S+ at .* since you loaded it/);
  const diff = page.getByTestId('conflict-diff');
  await expect(diff.locator('tr[data-path="stages[refId=1].waitTime"] .before')).toHaveText('30');
  await expect(diff.locator('tr[data-path="stages[refId=1].waitTime"] .after')).toHaveText('5');
  await expect(diff.locator('tr[data-path="description"] .after')).toHaveText('mine');

  await conflict.getByRole('button', { name: 'Overwrite with mine' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved as version 3.');
  await expect(conflict).toHaveCount(0);
  let stored = await (await request.post('/api/pipelines/get', { data: { application: name, name: 'Release' } })).json();
  expect([stored.document.description, stored.document.stages[0].waitTime]).toEqual(['mine', 5]);

  // The next save from this editor is based on the version it just made: no conflict.
  await editJson((doc) => { doc.description = 'mine again'; });
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved as version 4.');

  // Someone saves again; this time take their version instead.
  stored = await (await request.post('/api/pipelines/get', { data: { application: name, name: 'Release' } })).json();
  stored.document.stages[0].waitTime = 45;
  expect((await request.post('/api/pipelines/save', { data: { pipeline: stored.document } })).status()).toBe(200);
  await editJson((doc) => { doc.description = 'lost'; });
  await page.getByRole('button', { name: 'Save' }).click();
  await conflict.getByRole('button', { name: 'Load their version' }).click();
  await expect(conflict).toHaveCount(0);
  await expect(page.getByTestId('version')).toHaveText('version 5');
  await expect(page.getByTestId('pipeline-editor')).toHaveAttribute('data-dirty', 'false');
});
