import { test, expect, open, uniqueName, startTopsail, signIn } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

test('create an application, see it listed, reload, edit it, reject bad input, delete it', async ({ page }) => {
  const name = uniqueName('web');

  await open(page, '/applications');
  await page.getByRole('link', { name: /create (your first )?application/i }).first().click();
  await expect(page).toHaveURL(/\/applications\/new$/);

  // Inline validation as the user types, naming the problem.
  await page.getByLabel('Name', { exact: true }).fill('Bad_Name');
  await expect(page.locator('[data-field="name"]')).toHaveText(
    "name may contain only lowercase letters, digits and '-'",
  );
  await page.getByLabel('Name', { exact: true }).fill(name);
  await expect(page.locator('[data-field="name"]')).toHaveText('');
  await page.getByLabel('Owner email').fill('ops@example.com');
  await page.getByLabel('Team').fill('payments');
  await page.getByLabel('Description').fill('The storefront');
  await page.getByRole('button', { name: 'Create application' }).click();

  await expect(page).toHaveURL(new RegExp(`/applications/${name}$`));
  await expect(page.getByTestId('app-title')).toHaveText(name);

  // Listed, and still there after a reload.
  await open(page, '/applications');
  const row = page.locator(`tr[data-app="${name}"]`);
  await expect(row).toContainText('ops@example.com');
  await page.reload();
  await expect(row).toContainText('payments');

  // Edit on the Config tab (deep link), with a validation error first.
  await open(page, `/applications/${name}/config`);
  await expect(page.getByLabel('Name', { exact: true })).toHaveAttribute('readonly', '');
  await page.getByLabel('Owner email').fill('not-an-email');
  await expect(page.locator('[data-field="ownerEmail"]')).toHaveText('owner email must look like name@example.com');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Saved.')).toHaveCount(0);
  await page.getByLabel('Owner email').fill('platform@example.com');
  await page.getByLabel('Team').fill('platform');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();
  // The header follows without a reload, and the form keeps what was saved.
  await expect(page.locator('.app-header')).toContainText('platform@example.com');
  await expect(page.getByLabel('Team')).toHaveValue('platform');
  await expect(page.getByText('Saved.')).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Owner email')).toHaveValue('platform@example.com');
  await expect(page.locator('.app-header')).toContainText('platform');

  // Delete, confirmed by typing the name.
  await open(page, `/applications/${name}/config`);
  const del = page.getByRole('button', { name: 'Delete application' });
  await expect(del).toBeDisabled();
  await page.getByLabel('Application name').fill(name.slice(0, -1));
  await expect(del).toBeDisabled();
  await page.getByLabel('Application name').fill(name);
  await del.click();
  await expect(page).toHaveURL(/\/applications$/);
  await expect(page.locator(`tr[data-app="${name}"]`)).toHaveCount(0);
  await open(page, `/applications/${name}`);
  await expect(page.getByRole('heading', { name: 'No such application' })).toBeVisible();
});

test('a duplicate name is refused as already existing', async ({ page }) => {
  const name = uniqueName('dup');
  for (const attempt of [1, 2]) {
    await open(page, '/applications/new');
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Owner email').fill('ops@example.com');
    await page.getByRole('button', { name: 'Create application' }).click();
    if (attempt === 1) await expect(page).toHaveURL(new RegExp(`/applications/${name}$`));
  }
  await expect(page.locator('[data-field="name"]')).toHaveText(`application '${name}' already exists`);
  await expect(page).toHaveURL(/\/applications\/new$/);
});

test('an empty installation explains what to do', async ({ browser }) => {
  const own = await startTopsail();
  try {
    const page = await browser.newPage({ baseURL: own.url });
    await signIn(page, own);
    await open(page, '/applications');
    const welcome = page.getByTestId('no-applications');
    await expect(welcome).toContainText('Welcome to Topsail');
    // The three steps: a cluster (none configured here, and it says how), an application, the template.
    await expect(welcome.locator('[data-step="cluster"]')).toContainText('No Kubernetes account is configured yet');
    await expect(welcome.locator('[data-step="application"]').getByRole('link', { name: 'Create your first application' })).toBeVisible();
    await expect(welcome.locator('[data-step="pipeline"]')).toContainText('seed-flow template');
    await page.close();
  } finally {
    await own.stop();
  }
});

test('filter as you type, sort, and keep both in the address', async ({ page, request }) => {
  const tag = uniqueName('flt');
  for (const [name, team] of [[`${tag}-alpha`, 'red'], [`${tag}-beta`, 'blue'], [`${tag}-gamma`, 'red']]) {
    const res = await request.post('/api/applications/create', {
      data: { input: { name, ownerEmail: 'ops@example.com', team } },
    });
    expect(res.status()).toBe(200);
  }
  await open(page, '/applications');
  await page.getByLabel('Filter applications').fill(tag);
  await expect(page.locator('tbody tr')).toHaveCount(3);
  await page.getByLabel('Filter applications').pressSequentially('-b');
  await expect(page.locator('tbody tr')).toHaveCount(1);
  await expect(page.locator('tbody tr')).toContainText(`${tag}-beta`);
  await expect(page).toHaveURL(new RegExp(`q=${tag}-b`));

  await page.getByLabel('Filter applications').fill(tag);
  await page.getByLabel('Sort applications').selectOption('updated');
  await expect(page.locator('tbody tr').first()).toContainText(`${tag}-gamma`);
  await page.reload();
  await expect(page.getByLabel('Filter applications')).toHaveValue(tag);
  await expect(page.locator('tbody tr').first()).toContainText(`${tag}-gamma`);
  await expect(page.locator('tbody tr')).toHaveCount(3);

  await page.getByLabel('Filter applications').fill(`${tag}-nothing`);
  await expect(page.getByText(/No application matches/)).toBeVisible();
});

test('tabs are deep links and the switcher navigates', async ({ page, request }) => {
  const name = uniqueName('tabs');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  await open(page, `/applications/${name}/pipelines`);
  await expect(page.getByTestId('tab-pipelines')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Pipelines' })).toHaveAttribute('aria-current', 'page');
  await page.getByRole('link', { name: 'Executions' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/${name}/executions$`));
  await expect(page.getByTestId('tab-executions')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('tab-executions')).toBeVisible();

  await open(page, '/applications');
  await page.getByLabel('Switch application').selectOption(name);
  await expect(page).toHaveURL(new RegExp(`/applications/${name}$`));
  await expect(page.getByTestId('tab-infrastructure')).toBeVisible();
});

test('an unknown address is a 404 page', async ({ page }) => {
  const res = await page.goto('/no/such/page');
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  const missing = await page.goto(`/applications/${uniqueName('gone')}`);
  expect(missing?.status()).toBe(404);
});

test('dark mode follows the system', async ({ browser, topsail }) => {
  const colours: string[] = [];
  for (const colorScheme of ['light', 'dark'] as const) {
    const page = await browser.newPage({ baseURL: topsail.url, colorScheme });
    await signIn(page, topsail);
    await page.goto('/applications');
    colours.push(await page.evaluate(() => getComputedStyle(document.body).backgroundColor));
    await page.close();
  }
  expect(colours[0]).not.toBe(colours[1]);
});
