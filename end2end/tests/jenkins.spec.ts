import { test, expect, open, uniqueName, startTopsail, startJenkins, configFile, signIn } from './fixtures';

test("a Jenkins stage's console log streams onto the execution page while the build runs", async ({ browser }) => {
  const token = 'e2e-token-0123';
  const jenkins = await startJenkins({
    users: [{ name: 'bot', token }],
    quietPeriodMs: 0,
    jobs: [
      {
        name: 'shop/build',
        parameters: [{ name: 'BRANCH', default: 'main' }],
        build: {
          durationMs: 4000,
          console: ['Checking out ${BRANCH}', 'Compiling', 'Running the tests', 'Building the image'],
          artifacts: [{ path: 'build.properties', content: 'IMAGE_TAG=${BRANCH}-${BUILD_NUMBER}\n' }],
        },
      },
    ],
  });
  const config = configFile(
    `[[jenkins.masters]]\nname = "ci"\naddress = "${jenkins.url}"\nusername = "bot"\ntoken_env = "E2E_JENKINS_TOKEN"\n`,
  );
  const topsail = await startTopsail({ TOPSAIL_CONFIG: config, E2E_JENKINS_TOKEN: token });
  try {
    const context = await browser.newContext({ baseURL: topsail.url });
    const page = await context.newPage();
    await signIn(page, topsail);
    const request = context.request;
    const name = uniqueName('ci');
    await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
    const pipeline = {
      application: name,
      name: 'Build',
      stages: [
        { refId: '1', type: 'jenkins', name: 'Build', master: 'ci', job: 'shop/build', parameters: { BRANCH: 'release-7' }, propertyFile: 'build.properties' },
      ],
    };
    expect((await request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);
    // The stage form suggests the masters' jobs (through folders) for its Job field.
    await open(page, `/applications/${name}/pipelines/edit/Build`);
    await expect(page.locator('datalist#picker-masters option[value="ci"]')).toBeAttached();
    await expect(page.locator('datalist#picker-jobs option[value="shop/build"]')).toBeAttached();
    const started = await request.post('/api/executions/start', { data: { application: name, name: 'Build' } });
    const id: string = await started.json();

    await open(page, `/applications/${name}/executions/${id}`);
    await page.evaluate(() => ((window as any).__stayed = true));
    // A console shorter than its log, to see follow mode keep the newest line in view.
    await page.addStyleTag({ content: '.console pre { max-height: 3rem !important; }' });
    const console = page.getByTestId('console');
    // Lines arrive while the build runs; the page is never reloaded.
    await expect(console).toContainText('Checking out release-7');
    await expect(page.locator('section.console')).toHaveAttribute('data-running', 'true');
    await expect(console).not.toContainText('Finished: SUCCESS');
    await expect(console).toContainText('Building the image', { timeout: 15_000 });
    await expect(console).toContainText('Finished: SUCCESS', { timeout: 15_000 });
    await expect(page.locator('section.console')).toHaveAttribute('data-running', 'false');
    await expect(page.getByLabel('Follow')).toBeChecked();
    await expect
      .poll(() => console.evaluate((pre) => pre.scrollHeight - pre.clientHeight - pre.scrollTop))
      .toBeLessThanOrEqual(2);
    await expect(page.locator('article.execution')).toHaveAttribute('data-status', 'SUCCEEDED', { timeout: 15_000 });
    await expect(page.locator('section.console h2')).toContainText('Console: Build (build #1)');
    expect(await page.evaluate(() => (window as any).__stayed)).toBe(true);

    // The Integrations page shows the master and that it answers.
    await page.getByRole('link', { name: 'Integrations' }).click();
    const row = page.locator('tr[data-integration="ci"]');
    await expect(row).toHaveAttribute('data-healthy', 'true');
    await expect(row).toContainText('Jenkins 2.479.3');
    await context.close();
  } finally {
    await topsail.stop();
    await jenkins.stop();
  }
});
