import { test, expect, open, uniqueName, signIn } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

// Every page is loaded again and again while executions change state underneath it (stages
// starting and finishing between the server's render and the browser's hydration): the page
// must hydrate each time without an error. A mismatch between what the server rendered and what
// the browser renders kills the wasm ("entered unreachable code" in hydration), which shows up
// here as a page error and as a page that never becomes interactive.
test('every page hydrates while executions change state', async ({ page, request }) => {
  const rounds = Number(process.env.TOPSAIL_HYDRATION_ROUNDS ?? 6);
  test.setTimeout(60_000 + rounds * 40_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    // Errors, and Leptos' warning (debug builds) that a page reads data where the server and
    // the browser could render differently.
    if ((m.type() === 'error' && /panicked|unreachable|hydrat/i.test(m.text())) || /hydration mismatch/i.test(m.text())) {
      errors.push(`${page.url()}: ${m.text()}`);
    }
  });

  const app = uniqueName('hydrate');
  expect((await request.post('/api/applications/create', { data: { input: { name: app, ownerEmail: 'ops@example.com' } } })).status()).toBe(200);
  // The reproduction: wait → (evaluateVariables ∥ wait) → manual judgment → wait.
  const flow = {
    application: app,
    name: 'Flow',
    stages: [
      { refId: 'w2', type: 'wait', name: 'Wait 2 s', waitTime: 2 },
      { refId: 'ev', type: 'evaluateVariables', name: 'Variables', requisiteStageRefIds: ['w2'], variables: [{ key: 'who', value: '${trigger.user}' }] },
      { refId: 'w1', type: 'wait', name: 'Wait 1 s', waitTime: 1, requisiteStageRefIds: ['w2'] },
      { refId: 'mj', type: 'manualJudgment', name: 'Approve', requisiteStageRefIds: ['ev', 'w1'] },
      { refId: 'end', type: 'wait', name: 'Finish', waitTime: 1, requisiteStageRefIds: ['mj'] },
    ],
  };
  // Something changes every second: two branches of one-second waits.
  const busy = {
    application: app,
    name: 'Busy',
    stages: Array.from({ length: 10 }, (_, i) => ({
      refId: `s${i}`,
      type: 'wait',
      name: `Step ${i}`,
      waitTime: 1,
      requisiteStageRefIds: i < 2 ? [] : [`s${i - 2}`],
    })),
  };
  for (const pipeline of [flow, busy]) {
    expect((await request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);
  }
  const start = async (name: string): Promise<string> => {
    const res = await request.post('/api/executions/start', { data: { application: app, name } });
    expect(res.status()).toBe(200);
    return res.json();
  };

  for (let round = 0; round < rounds; round++) {
    const flowId = await start('Flow');
    const busyId = await start('Busy');
    const pages = [
      '/',
      '/applications',
      `/applications/${app}`,
      `/applications/${app}/executions/${flowId}`,
      `/applications/${app}/executions`,
      `/applications/${app}/executions/${busyId}`,
      `/applications/${app}/pipelines`,
      `/applications/${app}/executions/${flowId}?stage=mj`,
      `/applications/${app}/config`,
      `/applications/${app}/pipelines/edit/Flow`,
      `/applications/${app}/executions/${busyId}`,
      `/applications/${app}/executions/${flowId}`,
    ];
    for (const path of pages) {
      await open(page, path);
      expect(errors, `hydrating ${path} (round ${round + 1})`).toEqual([]);
    }
    // Let the flow finish: its judgment is answered while its page is open.
    const run = await (await request.post('/api/executions/get', { data: { id: flowId } })).json();
    const judgment = run.stages.find((s: any) => s.refId === 'mj');
    if (judgment?.status === 'RUNNING') {
      const judged = await request.post('/api/executions/judge', { data: { id: flowId, stage_id: judgment.id, judgment: 'continue' } });
      expect(judged.status()).toBe(200);
    }
  }
  // The page is still alive: a client-side navigation works.
  await page.getByRole('link', { name: 'Pipelines' }).first().click();
  await expect(page.getByTestId('tab-pipelines')).toBeVisible();
  expect(errors).toEqual([]);
});
