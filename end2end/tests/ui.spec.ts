import AxeBuilder from '@axe-core/playwright';
import type { APIRequestContext, Page } from '@playwright/test';
import { test, expect, open, uniqueName, signIn } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

async function application(request: APIRequestContext, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  const res = await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  expect(res.status(), await res.text()).toBe(200);
  return name;
}

async function pipeline(request: APIRequestContext, app: string, name: string, stages: unknown[], extra: object = {}) {
  const res = await request.post('/api/pipelines/save', { data: { pipeline: { application: app, name, stages, ...extra } } });
  expect(res.status(), await res.text()).toBe(200);
}

async function start(request: APIRequestContext, app: string, name: string, trigger?: unknown): Promise<string> {
  const res = await request.post('/api/executions/start', { data: { application: app, name, trigger } });
  expect(res.status(), await res.text()).toBe(200);
  return res.json();
}

async function execution(request: APIRequestContext, id: string) {
  return (await request.post('/api/executions/get', { data: { id } })).json();
}

const quick = [{ refId: 'only', type: 'wait', name: 'Only', waitTime: 0 }];

test('the selected stage is in the address: reload, back and forward keep it', async ({ page, request }) => {
  const app = await application(request, 'deep');
  await pipeline(request, app, 'Two', [
    { refId: 'first', type: 'wait', name: 'First', waitTime: 0 },
    { refId: 'second', type: 'wait', name: 'Second', waitTime: 0, requisiteStageRefIds: ['first'] },
  ]);
  const id = await start(request, app, 'Two');
  await open(page, `/applications/${app}/executions/${id}`);
  const graph = page.getByTestId('graph');
  await graph.locator('g.node[data-stage="first"]').click();
  await expect(page).toHaveURL(/\?stage=first$/);
  await expect(page.getByTestId('stage-details')).toContainText('First');
  await graph.locator('g.node[data-stage="second"]').click();
  await expect(page).toHaveURL(/\?stage=second$/);
  await page.reload();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByTestId('stage-details')).toContainText('Second');
  await page.goBack();
  await expect(page).toHaveURL(/\?stage=first$/);
  await expect(page.getByTestId('stage-details')).toContainText('First');
  await page.goForward();
  await expect(page.getByTestId('stage-details')).toContainText('Second');
  // A shared link opens the same view (rendered on the server).
  const html = await (await request.get(`/applications/${app}/executions/${id}?stage=first`)).text();
  expect(html).toContain('data-testid="stage-details"');
});

test('executions: filters live in the address, pages go beyond the first, search by id', async ({ page, request }) => {
  const app = await application(request, 'pages');
  await pipeline(request, app, 'Quick', quick);
  await pipeline(request, app, 'Other', quick);
  const ids: string[] = [];
  for (let i = 0; i < 28; i++) ids.push(await start(request, app, 'Quick'));
  const others = [await start(request, app, 'Other'), await start(request, app, 'Other')];

  await open(page, `/applications/${app}/executions?pipeline=Quick`);
  const cards = page.locator('article.execution');
  await expect(cards).toHaveCount(25);
  await expect(page.getByTestId('execution-count')).toHaveText('25 executions');
  await page.getByTestId('older').click();
  await expect(page).toHaveURL(/before=/);
  await expect(cards).toHaveCount(3);
  await expect(page.getByTestId('older')).toHaveCount(0);
  // The three oldest: the first three started.
  for (const id of ids.slice(0, 3)) await expect(page.locator(`article[data-execution="${id}"]`)).toBeVisible();
  await page.reload();
  await expect(cards).toHaveCount(3);
  await page.goBack();
  await expect(cards).toHaveCount(25);

  // The form writes the address; the list follows.
  await page.getByLabel('Pipeline', { exact: true }).fill('Other');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/pipeline=Other/);
  await expect(cards).toHaveCount(2);
  await expect(page.getByTestId('execution-count')).toHaveText('2 executions');

  // By id (its beginning), and by status once they have finished.
  await open(page, `/applications/${app}/executions?id=${others[0].slice(0, 12)}`);
  await expect(cards).toHaveCount(1);
  await expect(page.getByTestId('execution-count')).toHaveText('1 execution');
  await expect.poll(async () => (await execution(request, others[1])).status, { timeout: 20_000 }).toBe('SUCCEEDED');
  await open(page, `/applications/${app}/executions?status=TERMINAL`);
  await expect(page.getByTestId('no-executions')).toContainText('No execution matches these filters.');
  await page.getByRole('link', { name: 'Clear' }).click();
  await expect(page).not.toHaveURL(/status=/);
  await expect(cards).toHaveCount(30);
});

test('the Pipelines tab keeps its filters in the address', async ({ page, request }) => {
  const app = await application(request, 'pfilter');
  await pipeline(request, app, 'Quick', quick);
  await open(page, `/applications/${app}/pipelines`);
  await page.getByLabel('Show runs with status').selectOption('failed');
  await expect(page).toHaveURL(/\?status=failed$/);
  await page.getByLabel('Show runs started by').selectOption('jenkins');
  await expect(page).toHaveURL(/trigger=jenkins/);
  await page.reload();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByLabel('Show runs with status')).toHaveValue('failed');
  await expect(page.getByLabel('Show runs started by')).toHaveValue('jenkins');
});

test.describe('in the browser\'s time zone', () => {
  test.use({ timezoneId: 'Asia/Kolkata' });

  test('times read relative and live, with the exact local time on hover', async ({ page, request }) => {
    const app = await application(request, 'tz');
    // The server renders UTC (it knows no time zone); the browser then shows its own.
    const html = await (await request.get('/applications')).text();
    // (release builds mark the dynamic text with an empty comment)
    expect(html).toMatch(/<time datetime="[0-9T:-]+Z"[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d UTC(<!>)?<\/time>/);
    await open(page, '/applications');
    const time = page.locator(`tr[data-app="${app}"] time`);
    await expect(time).toHaveText(/^(just now|\d+ s ago|\d+ min ago)$/);
    await expect(time).toHaveAttribute('title', /^\d{4}-\d\d-\d\d \d\d:\d\d UTC\+05:30$/);
    // The clock runs: "just now" becomes "… s ago" without a reload.
    await expect(time).toHaveText(/^\d+ s ago$/, { timeout: 30_000 });
  });
});

test('cancel asks for a reason and says how it went; Run again repeats the run', async ({ page, request }) => {
  const app = await application(request, 'cancel');
  await pipeline(request, app, 'Gate', [{ refId: 'gate', type: 'manualJudgment', name: 'Gate' }], {
    parameterConfig: [{ name: 'env', default: 'test' }],
  });
  const id = await start(request, app, 'Gate', { type: 'manual', parameters: { env: 'staging' } });
  await open(page, `/applications/${app}/executions/${id}`);
  const controls = page.locator('article.execution header .controls');
  await controls.getByRole('button', { name: 'Cancel' }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Cancel this execution?' });
  await confirm.getByLabel('Reason').fill('wrong build');
  await confirm.getByRole('button', { name: 'Cancel execution' }).click();
  await expect(page.getByTestId('toast').filter({ hasText: 'Execution canceled' })).toBeVisible();
  await expect(page.getByTestId('execution-page')).toContainText('wrong build');
  expect((await execution(request, id)).cancellationReason).toBe('wrong build');

  await controls.getByRole('button', { name: 'Run again' }).click();
  await expect(page).not.toHaveURL(new RegExp(`/executions/${id}$`));
  const again = page.url().split('/').pop()!;
  const rerun = await execution(request, again);
  expect(rerun.trigger.parameters.env).toBe('staging');
  expect(rerun.trigger.rerunOf).toBe(id);
  await expect(page.getByTestId('toast').filter({ hasText: 'Started again' })).toBeVisible();
});

test('a pipeline is deleted from the Pipelines tab after a confirmation; its executions stay', async ({ page, request }) => {
  const app = await application(request, 'delpipe');
  await pipeline(request, app, 'Gone', quick);
  const id = await start(request, app, 'Gone');
  await open(page, `/applications/${app}/pipelines`);
  const row = page.locator('tr[data-pipeline="Gone"]');
  await row.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('alertdialog', { name: 'Delete this pipeline?' }).getByRole('button', { name: 'Delete pipeline' }).click();
  await expect(page.getByTestId('toast').filter({ hasText: 'Pipeline Gone deleted' })).toBeVisible();
  await expect(row).toHaveCount(0);
  await open(page, `/applications/${app}/executions?pipeline=Gone`);
  await expect(page.locator(`article[data-execution="${id}"]`)).toBeVisible();
});

test('keyboard: / searches, g a goes to the applications, ? lists the shortcuts', async ({ page }) => {
  await open(page, '/applications');
  await page.keyboard.press('?');
  await expect(page.getByTestId('shortcuts')).toBeVisible();
  await expect(page.getByTestId('shortcuts')).toContainText('Go to applications');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('shortcuts')).toHaveCount(0);
  await page.keyboard.press('/');
  await expect(page.getByLabel('Filter applications')).toBeFocused();
  // Keys typed into a field are the field's.
  await page.keyboard.type('g a');
  await expect(page.getByLabel('Filter applications')).toHaveValue('g a');
  await open(page, '/integrations');
  await page.keyboard.press('g');
  await page.keyboard.press('a');
  await expect(page).toHaveURL(/\/applications$/);
});

/** Serious and critical accessibility violations on the page (axe-core, WCAG 2 A and AA). */
async function violations(page: Page) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

test('every page passes an automated accessibility check', async ({ page, request }) => {
  test.setTimeout(120_000);
  const app = await application(request, 'axe');
  await pipeline(request, app, 'Two', [
    { refId: 'a', type: 'wait', name: 'A', waitTime: 0 },
    { refId: 'b', type: 'manualJudgment', name: 'Approve', requisiteStageRefIds: ['a'] },
  ]);
  const id = await start(request, app, 'Two');
  const pages = [
    '/applications',
    '/applications/new',
    `/applications/${app}`,
    `/applications/${app}/pipelines`,
    `/applications/${app}/executions`,
    `/applications/${app}/executions/${id}`,
    `/applications/${app}/executions/${id}?stage=a`,
    `/applications/${app}/pipelines/edit/Two`,
    `/applications/${app}/config`,
    '/integrations',
    '/settings/tokens',
    '/admin/users',
    '/admin/audit',
  ];
  for (const path of pages) {
    await open(page, path);
    expect(await violations(page), path).toEqual([]);
  }
  await page.context().clearCookies();
  await page.goto('/login');
  expect(await violations(page), '/login').toEqual([]);
});
