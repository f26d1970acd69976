import { test, expect, open, uniqueName, startTopsail, signIn, type Topsail } from './fixtures';
import type { Browser, Page } from '@playwright/test';

/** Where the login page will go back to. */
const nextOf = (page: Page) => new URL(page.url()).searchParams.get('next');

/** A page in a browser context of its own, signed in as `username`. */
async function signedInPage(browser: Browser, topsail: Topsail, username?: string, password?: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: topsail.url });
  const page = await context.newPage();
  await signIn(page, topsail, username, password);
  return page;
}

/** Fills in and sends the login form. */
async function signInWithTheForm(page: Page, username: string, password: string) {
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('User name', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('a visit without a session goes to the login page and comes back after signing in', async ({ page, topsail }) => {
  await page.goto('/applications/x');
  await expect(page).toHaveURL(/\/login\?next=/);
  expect(nextOf(page)).toBe('/applications/x');
  // No single sign-on is configured here.
  await expect(page.getByRole('link', { name: 'Sign in with single sign-on' })).toHaveCount(0);

  await signInWithTheForm(page, 'admin', topsail.adminPassword);
  await expect(page).toHaveURL(`${topsail.url}/applications/x`);
  await expect(page.getByTestId('user-name')).toHaveText('admin');
});

test('a wrong password is refused with a message', async ({ page }) => {
  await open(page, '/login');
  await signInWithTheForm(page, 'admin', 'not the password at all');
  await expect(page.getByTestId('login-error')).toHaveText('Wrong user name or password.');
  await expect(page).toHaveURL(/\/login$/);
});

test('the user menu shows who is signed in, with their roles and what they may open', async ({ page, topsail, browser }) => {
  await signIn(page, topsail);
  const name = uniqueName('ann');
  const password = 'a long enough password';
  const added = await page.request.post('/api/users/add', {
    data: { user: { username: name, password, admin: false, roles: 'viewers, ops' } },
  });
  expect(added.status()).toBe(200);

  await open(page, '/applications');
  await page.getByTestId('user-menu').click();
  await expect(page.getByTestId('user-name')).toHaveText('admin');
  await expect(page.getByTestId('user-admin')).toBeVisible();
  await expect(page.getByRole('link', { name: 'API tokens' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Users' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Audit log' })).toBeVisible();

  const ann = await signedInPage(browser, topsail, name, password);
  await open(ann, '/applications');
  await ann.getByTestId('user-menu').click();
  await expect(ann.getByTestId('user-name')).toHaveText(name);
  await expect(ann.getByTestId('user-roles')).toHaveText('Roles: ops, viewers');
  await expect(ann.getByRole('link', { name: 'API tokens' })).toBeVisible();
  await expect(ann.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await expect(ann.getByRole('link', { name: 'Audit log' })).toHaveCount(0);
  // The admin pages say who may see them.
  const forbidden = await ann.goto('/admin/users');
  expect(forbidden?.status()).toBe(403);
  await expect(ann.getByTestId('admins-only')).toContainText('Only admins can see this page');
  await ann.context().close();
});

test('signing out goes to the login page and the session is over', async ({ page, topsail }) => {
  await signIn(page, topsail);
  await open(page, '/applications');
  await page.getByTestId('user-menu').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  await page.goto('/applications');
  await expect(page).toHaveURL(/\/login\?next=/);
  expect(nextOf(page)).toBe('/applications');
  const call = await page.request.post('/api/applications/list', { data: {} });
  expect(call.status()).toBe(401);
});

test('a page whose session is gone goes to the login page at its next call, and comes back', async ({ page, topsail }) => {
  await signIn(page, topsail);
  await open(page, '/integrations');
  await page.context().clearCookies();
  // "Check again" asks a server function, which now answers 401: the page goes to sign in.
  await page.getByRole('button', { name: 'Check again' }).click();
  await expect(page).toHaveURL(/\/login\?next=/);
  expect(nextOf(page)).toBe('/integrations');
  await signInWithTheForm(page, 'admin', topsail.adminPassword);
  await expect(page).toHaveURL(`${topsail.url}/integrations`);
});

test('an idle session expires: the next page load asks to sign in and keeps the way back', async ({ browser }) => {
  const topsail = await startTopsail({ TOPSAIL_SESSION_IDLE_TIMEOUT: '3s' });
  try {
    const context = await browser.newContext({ baseURL: topsail.url });
    const page = await context.newPage();
    await signIn(page, topsail);
    await open(page, '/applications?q=idle');
    await expect(page.getByRole('heading', { name: 'Applications', exact: true })).toBeVisible();
    // Every reload is activity while the session lives; the pauses between them grow until one
    // outlasts the idle timeout, and that reload lands on the login page.
    await expect
      .poll(
        async () => {
          await page.reload();
          return new URL(page.url()).pathname;
        },
        { intervals: [1_000, 2_000, 4_000], timeout: 30_000 },
      )
      .toBe('/login');
    expect(nextOf(page)).toBe('/applications?q=idle');
    await context.close();
  } finally {
    await topsail.stop();
  }
});

test('a viewer sees an application and its runs, but may not start or judge them', async ({ page, topsail, browser }) => {
  test.setTimeout(90_000);
  await signIn(page, topsail);
  const viewer = uniqueName('viewer');
  const password = 'viewer password 1';

  // The admin adds the user on the Users page.
  await open(page, '/admin/users');
  await page.getByLabel('User name', { exact: true }).fill(viewer);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Roles', { exact: true }).fill('viewers');
  await page.getByRole('button', { name: 'Add user' }).click();
  const row = page.locator(`tr[data-user="${viewer}"]`);
  await expect(row).toContainText('viewers');
  await expect(row).toContainText('local');

  // ... and an application viewers may read and releasers may run and change.
  const app = uniqueName('perm');
  await open(page, '/applications/new');
  await page.getByLabel('Name', { exact: true }).fill(app);
  await page.getByLabel('Owner email').fill('ops@example.com');
  await page.getByLabel('Read roles').fill('viewers');
  await page.getByLabel('Execute roles').fill('releasers');
  await page.getByLabel('Write roles').fill('releasers');
  await page.getByRole('button', { name: 'Create application' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/${app}$`));
  const pipeline = { application: app, name: 'Gate', stages: [{ refId: '1', type: 'manualJudgment', name: 'Verify' }] };
  expect((await page.request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);
  const started = await page.request.post('/api/executions/start', { data: { application: app, name: 'Gate' } });
  expect(started.status()).toBe(200);
  const id: string = await started.json();

  const seen = await signedInPage(browser, topsail, viewer, password);
  await open(seen, '/applications');
  await expect(seen.locator(`tr[data-app="${app}"]`)).toHaveCount(1);

  await open(seen, `/applications/${app}/pipelines`);
  const gate = seen.locator('tr[data-pipeline="Gate"]');
  await expect(gate).toBeVisible();
  await expect(gate.getByRole('link', { name: 'Start', exact: true })).toHaveCount(0);
  await expect(seen.getByRole('link', { name: /New .*pipeline/ })).toHaveCount(0);

  await open(seen, `/applications/${app}/executions`);
  const execution = seen.locator(`article.execution[data-execution="${id}"]`);
  await expect(execution.locator('li[data-stage="1"]')).toHaveAttribute('data-status', 'RUNNING');
  await expect(seen.getByRole('button', { name: 'Start', exact: true })).toHaveCount(0);
  await expect(execution.getByRole('button', { name: 'Continue', exact: true })).toHaveCount(0);
  await expect(execution.getByRole('button', { name: 'Cancel', exact: true })).toHaveCount(0);

  await open(seen, `/applications/${app}/executions/${id}`);
  await expect(seen.getByTestId('judgment-panel')).toBeVisible();
  await expect(seen.getByRole('button', { name: 'Continue', exact: true })).toHaveCount(0);

  // The server refuses anyway.
  const refused = await seen.request.post('/api/executions/start', { data: { application: app, name: 'Gate' } });
  expect(refused.status()).toBe(403);

  // A new application offers the creator's roles for every kind of access.
  await open(seen, '/applications/new');
  await expect(seen.getByLabel('Read roles')).toHaveValue('viewers');
  await expect(seen.getByLabel('Execute roles')).toHaveValue('viewers');
  await seen.context().close();

  // The admin may judge.
  await open(page, `/applications/${app}/executions/${id}`);
  await expect(page.getByTestId('judgment-panel').getByRole('button', { name: 'Continue' })).toBeVisible();
});

test('an API token is shown once, works as a bearer token, and stops working when revoked', async ({ page, topsail, playwright }) => {
  await signIn(page, topsail);
  await open(page, '/settings/tokens');
  const name = uniqueName('ci');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Expires after (days)').fill('7');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByTestId('new-token');
  await expect(shown).not.toBeEmpty();
  const secret = (await shown.innerText()).trim();
  const row = page.locator(`tr[data-token="${name}"]`);
  await expect(row).toBeVisible();
  await expect(row).not.toContainText(secret);

  // A client with the token only, no session.
  const api = await playwright.request.newContext({ baseURL: topsail.url });
  try {
    const bearer = { authorization: `Bearer ${secret}` };
    const me = await api.get('/gate/auth/user', { headers: bearer });
    expect(me.status()).toBe(200);
    const body = await me.json();
    expect(body.username).toBe('admin');
    expect(Array.isArray(body.roles)).toBe(true);

    // Shown once: after a reload only its summary is listed.
    await page.reload();
    await expect(row).toBeVisible();
    await expect(page.getByTestId('new-token')).toHaveCount(0);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await expect(row).toHaveCount(0);
    expect((await api.get('/gate/auth/user', { headers: bearer })).status()).toBe(401);
  } finally {
    await api.dispose();
  }
});

test('the audit log filters in the address and downloads the same selection as JSON lines', async ({ page, topsail }) => {
  await signIn(page, topsail);
  await open(page, '/admin/audit');
  await page.getByLabel('Actor', { exact: true }).fill('admin');
  await page.getByLabel('Action', { exact: true }).fill('login');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/\/admin\/audit\?actor=admin&action=login/);
  await expect(page.getByLabel('Actor', { exact: true })).toHaveValue('admin');
  const first = page.locator('table[aria-label="Audit log"] tbody tr').first();
  await expect(first).toContainText('admin');
  await expect(first).toContainText('login');
  await expect(page.getByTestId('audit-export')).toHaveAttribute('href', '/api/audit/export?actor=admin&action=login');

  const lines = await page.request.get('/api/audit/export?actor=admin&action=login');
  expect(lines.status()).toBe(200);
  expect(lines.headers()['content-type']).toContain('application/x-ndjson');
  const entries = (await lines.text()).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  expect(entries.length).toBeGreaterThan(0);
  expect(entries.every((e) => e.actor === 'admin' && String(e.action).startsWith('login'))).toBe(true);
});
