import { test, expect, open, uniqueName } from './fixtures';

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
  await expect(row).toContainText('anonymous');

  // An application with pipelines cannot be deleted; the reason is shown.
  await open(page, `/applications/${name}/config`);
  await page.getByLabel('Application name').fill(name);
  await page.getByRole('button', { name: 'Delete application' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'still has 1 pipeline(s)' })).toBeVisible();
});
