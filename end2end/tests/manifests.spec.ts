import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Locator, Page } from '@playwright/test';
import { clusterTest as test, expect, open, uniqueName, signIn, startTopsail, configFile, type Cluster } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

const REPOSITORY = 'registry.local/demo/dubbo-demo-service';
const IMAGE = `${REPOSITORY}:1.4.2`;

/** The input of the manifest editor bound to `fieldPath` of the current object. */
function field(editor: Locator, fieldPath: string): Locator {
  return editor.locator(`.field[data-path="${fieldPath}"]`).locator('input, textarea, select').first();
}

/** A pipeline with an expected image artifact (resolved to IMAGE by default) and no stages yet. */
async function pipelineWithArtifact(page: Page, app: string, name: string, stages: unknown[] = []) {
  const pipeline = {
    application: app, name, triggers: [], stages,
    expectedArtifacts: [{
      id: 'dubbo-image', displayName: 'dubbo image',
      matchArtifact: { type: 'docker/image', name: REPOSITORY },
      useDefaultArtifact: true,
      defaultArtifact: { type: 'docker/image', name: REPOSITORY, reference: IMAGE },
    }],
  };
  const saved = await page.request.post('/api/pipelines/save', { data: { pipeline } });
  expect(saved.status(), await saved.text()).toBe(200);
}

async function createApp(page: Page, cluster: Cluster, prefix: string) {
  const app = uniqueName(prefix);
  const created = await page.request.post('/api/applications/create', { data: { input: { name: app, ownerEmail: 'ops@example.com' } } });
  expect(created.ok()).toBeTruthy();
  expect((await cluster.request('POST', '/api/v1/namespaces', { metadata: { name: `${app}-test` } })).status).toBe(201);
  return app;
}

function at(value: any, fieldPath: string): any {
  return fieldPath.split('.').flatMap((p) => p.split(/\[(\d+)\]/).filter(Boolean))
    .reduce((v, key) => (v === undefined || v === null ? undefined : v[/^\d+$/.test(key) ? Number(key) : key]), value);
}

/** Serious or critical WCAG 2 A/AA findings inside the manifest editor. */
async function violations(page: Page) {
  const result = await new AxeBuilder({ page }).include('[data-testid="manifest-editor"]').withTags(['wcag2a', 'wcag2aa']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

/** `kubernetes-validate --strict` (PyPI, installed by ./x), as the server's schema test runs it. */
function validateStrict(manifests: unknown[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-validate-'));
  const files = manifests.map((m, i) => {
    const f = path.join(dir, `manifest-${i}.json`);
    fs.writeFileSync(f, JSON.stringify(m, null, 2));
    return f;
  });
  return execFileSync('kubernetes-validate', ['--strict', '--no-warn', '-k', '1.33.0', ...files], { encoding: 'utf8' });
}

test('the dubbo-demo-service workload is built through the form alone, deployed, and is what the form showed', async ({ page, cluster }) => {
  test.setTimeout(120_000);
  const app = await createApp(page, cluster, 'dubbo');
  const ns = `${app}-test`;
  await pipelineWithArtifact(page, app, 'Deploy dubbo');
  await open(page, `/applications/${app}/pipelines/edit/Deploy%20dubbo`);

  // A deployManifest stage, its account and namespace.
  await page.locator('#new-stage-type').selectOption('deployManifest');
  await page.getByRole('button', { name: 'Add stage' }).click();
  const stage = page.getByTestId('stage-form');
  await stage.getByLabel('Account').fill('sim-1');
  await stage.getByLabel('Namespace').fill(ns);
  const editor = stage.getByTestId('manifest-editor');
  await expect(editor).toHaveAttribute('data-mode', 'form');

  // The Deployment.
  await editor.locator('#mf-add-kind').selectOption('Deployment');
  await editor.getByRole('button', { name: 'Add object' }).click();
  await expect(editor.locator('.document-form')).toHaveAttribute('data-kind', 'Deployment');
  const c0 = 'spec.template.spec.containers[0]';
  await field(editor, 'metadata.name').fill('dubbo-demo-service');
  await field(editor, 'spec.replicas').fill('2');
  await field(editor, 'spec.strategy.type').selectOption('RollingUpdate');
  await field(editor, 'spec.strategy.rollingUpdate.maxSurge').fill('1');
  await field(editor, 'spec.strategy.rollingUpdate.maxUnavailable').fill('0');
  await field(editor, `${c0}.name`).fill('dubbo-demo-service');
  await editor.locator('select[id$="image-artifact"]').first().selectOption('dubbo-image');
  await expect(editor.getByTestId('image-bound')).toBeVisible();
  await field(editor, `${c0}.ports[0].containerPort`).fill('20880');
  await field(editor, `${c0}.ports[0].name`).fill('dubbo');
  const env = editor.locator('.container-form').first().locator('fieldset.env');
  for (const [name, value] of [['JAR_BALL', 'dubbo-demo-service-1.4.2.jar'], ['C_OPTS', '-Xms512m -Xmx1g -Ddubbo.protocol.port=20880']]) {
    await env.getByRole('button', { name: 'Add variable' }).click();
    const row = env.locator('.entry').last();
    await row.getByLabel('Variable').fill(name);
    await row.getByLabel('Value').fill(value);
  }
  await field(editor, `${c0}.resources.requests.cpu`).fill('250m');
  await field(editor, `${c0}.resources.requests.memory`).fill('512Mi');
  await field(editor, `${c0}.resources.limits.cpu`).fill('500m');
  await field(editor, `${c0}.resources.limits.memory`).fill('1Gi');
  await expect(editor.locator(`.field[data-path="${c0}.resources.limits.memory"] .hint`)).toHaveText('= 1 GiB');
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    await editor.locator(`fieldset[data-probe="${probe}"] select`).first().selectOption('tcpSocket');
    await expect(field(editor, `${c0}.${probe}.tcpSocket.port`)).toHaveValue('20880');
    await field(editor, `${c0}.${probe}.initialDelaySeconds`).fill(probe === 'readinessProbe' ? '10' : '30');
    await field(editor, `${c0}.${probe}.periodSeconds`).fill('10');
  }
  // The Filebeat sidecar, sharing a log volume with the application container.
  await editor.locator('#mf-sidecar-template').selectOption('filebeat');
  await editor.getByLabel('Mounted in that container at').fill('/opt/dubbo/logs');
  await editor.getByLabel('Project name (PROJ_NAME)').fill('dubbo-demo');
  await editor.getByRole('button', { name: 'Add Filebeat log shipper' }).click();
  await expect(editor.locator('.container-form')).toHaveCount(2);
  await expect(editor.locator('.container-form[data-container="filebeat"]')).toHaveAttribute('data-role', 'sidecar');
  await expect(field(editor, 'spec.template.spec.volumes[0].name')).toHaveValue('app-logs');

  // The Service, tied to the workload: its pods' labels, the Dubbo port.
  await editor.locator('#mf-add-kind').selectOption('Service');
  await editor.getByRole('button', { name: 'Add object' }).click();
  await expect(editor.locator('.document-form')).toHaveAttribute('data-kind', 'Service');
  await field(editor, 'metadata.name').fill('dubbo-demo-service');
  await expect(field(editor, 'spec.ports[0].port')).toHaveValue('20880');
  await expect(editor.getByTestId('manifest-problems').locator('li')).toHaveCount(0);

  // YAML and back: nothing lost.
  await editor.getByRole('button', { name: 'YAML', exact: true }).click();
  await expect(editor).toHaveAttribute('data-mode', 'yaml');
  const yaml = editor.locator('#mf-yaml');
  await expect(yaml).toHaveValue(/JAR_BALL/);
  await expect(yaml).toHaveValue(/kind: Service/);
  await expect(editor.locator('.gutter li').first()).toHaveText('1');
  await editor.getByRole('button', { name: 'Form', exact: true }).click();
  await expect(editor).toHaveAttribute('data-mode', 'form');
  await editor.locator('button[data-document="0"]').click();
  await expect(field(editor, `${c0}.env[1].name`)).toHaveValue('C_OPTS');

  // What the form shows, field by field (the image is the artifact's repository until bound).
  const shown: Record<string, string> = {};
  const paths = ['metadata.name', 'spec.replicas', 'spec.strategy.rollingUpdate.maxSurge', 'spec.strategy.rollingUpdate.maxUnavailable',
    `${c0}.name`, `${c0}.ports[0].containerPort`, `${c0}.env[0].name`, `${c0}.env[0].value`, `${c0}.env[1].name`, `${c0}.env[1].value`,
    `${c0}.resources.requests.cpu`, `${c0}.resources.requests.memory`, `${c0}.resources.limits.cpu`, `${c0}.resources.limits.memory`,
    `${c0}.readinessProbe.tcpSocket.port`, `${c0}.readinessProbe.initialDelaySeconds`, `${c0}.livenessProbe.tcpSocket.port`,
    `${c0}.livenessProbe.initialDelaySeconds`, `${c0}.volumeMounts[0].name`, `${c0}.volumeMounts[0].mountPath`,
    'spec.template.spec.containers[1].name', 'spec.template.spec.containers[1].image', 'spec.template.spec.containers[1].volumeMounts[0].mountPath',
    'spec.template.spec.volumes[0].name'];
  for (const p of paths) shown[p] = await field(editor, p).inputValue();
  expect(shown[`${c0}.volumeMounts[0].mountPath`]).toBe('/opt/dubbo/logs');
  expect(await field(editor, `${c0}.image`).inputValue()).toBe(REPOSITORY);

  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('version')).toHaveText(/version 2/);
  const saved = await (await page.request.post('/api/pipelines/get', { data: { application: app, name: 'Deploy dubbo' } })).json();
  const savedStage = saved.document.stages[0];
  expect(savedStage.requiredArtifactIds).toEqual(['dubbo-image']);
  const manifests = savedStage.manifests;
  expect(manifests.map((m: any) => m.kind)).toEqual(['Deployment', 'Service']);
  validateStrict(manifests);

  // Run it against the simulated cluster.
  const id: string = await (await page.request.post('/api/executions/start', { data: { application: app, name: 'Deploy dubbo' } })).json();
  await expect.poll(async () => {
    const e = await (await page.request.post('/api/executions/get', { data: { id } })).json();
    return e.status;
  }, { timeout: 60_000 }).toBe('SUCCEEDED');
  const live = (await cluster.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/dubbo-demo-service`)).body;
  for (const [p, value] of Object.entries(shown)) {
    expect(String(at(live, p)), p).toBe(value);
  }
  expect(at(live, `${c0}.image`)).toBe(IMAGE);
  expect(at(live, 'spec.template.spec.volumes[0].emptyDir')).toEqual({});
  expect(at(live, 'spec.template.spec.containers[1].env').map((e: any) => e.name)).toEqual(['ENV', 'PROJ_NAME']);
  const service = (await cluster.request('GET', `/api/v1/namespaces/${ns}/services/dubbo-demo-service`)).body;
  expect(service.spec.ports[0].port).toBe(20880);
  expect(service.spec.selector).toEqual(manifests[0].spec.template.metadata.labels);
});

test('form edits keep unknown fields and annotations; YAML errors show on their line, bad resources on their field; the dry run shows the diff', async ({ page, cluster }) => {
  const app = await createApp(page, cluster, 'mfedit');
  const ns = `${app}-test`;
  const manifest = {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', labels: { 'app.kubernetes.io/name': app }, annotations: { 'team.example.com/owner': 'payments' } },
    spec: {
      replicas: 1, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.local/web:1', 'x-build': { commit: 'abc123' } }] } },
    },
  };
  // What runs now: one replica.
  const applied = await cluster.request('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/web?fieldManager=e2e&force=true`,
    { ...manifest, spec: { ...manifest.spec, template: { ...manifest.spec.template, spec: { containers: [{ name: 'web', image: 'registry.local/web:1' }] } } } },
    'application/apply-patch+yaml');
  expect(applied.status).toBeLessThan(300);
  await pipelineWithArtifact(page, app, 'Edit', [
    { refId: '1', type: 'deployManifest', name: 'Deploy', account: 'sim-1', namespaceOverride: ns, manifests: [manifest], requisiteStageRefIds: [] },
  ]);
  await open(page, `/applications/${app}/pipelines/edit/Edit`);
  await page.getByTestId('editor-graph').locator('g.node[data-stage="1"]').click();
  const editor = page.getByTestId('manifest-editor');
  await expect(editor.locator('.document-form')).toHaveAttribute('data-kind', 'Deployment');
  // The schema does not know x-build: a warning, kept.
  await expect(editor.getByTestId('manifest-warnings')).toContainText('x-build');
  expect(await violations(page), 'form view').toEqual([]);

  // Edits keep what the form does not show.
  await field(editor, 'spec.replicas').fill('3');
  await editor.getByRole('button', { name: 'YAML', exact: true }).click();
  await expect(editor.locator('#mf-yaml')).toHaveValue(/team\.example\.com\/owner: payments/);
  await expect(editor.locator('#mf-yaml')).toHaveValue(/commit: abc123/);
  expect(await violations(page), 'YAML view').toEqual([]);
  await editor.getByRole('button', { name: 'Form', exact: true }).click();
  await expect(field(editor, 'spec.replicas')).toHaveValue('3');

  // The dry run: what would change against what runs now.
  await editor.getByRole('button', { name: 'What will change' }).click();
  const planned = editor.locator('div.planned[data-object="deployment web"]');
  await expect(planned).toHaveAttribute('data-exists', 'true');
  await expect(planned.locator('tr[data-path="spec.replicas"] .before')).toHaveText('1');
  await expect(planned.locator('tr[data-path="spec.replicas"] .after')).toHaveText('3');

  // A bad quantity and limits below requests, each on its field; the pipeline is not saved.
  const c0 = 'spec.template.spec.containers[0]';
  await field(editor, `${c0}.resources.requests.memory`).fill('lots');
  await expect(editor.locator(`.field[data-path="${c0}.resources.requests.memory"] .field-problem`)).toContainText('not a quantity');
  await field(editor, `${c0}.resources.requests.memory`).fill('1Gi');
  await field(editor, `${c0}.resources.requests.cpu`).fill('1');
  await field(editor, `${c0}.resources.limits.cpu`).fill('500m');
  await expect(editor.locator(`.field[data-path="${c0}.resources.limits.cpu"] .field-problem`)).toContainText('less than');
  await expect(page.getByTestId('manifest-blocked')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Save' })).toBeDisabled();
  await field(editor, `${c0}.resources.limits.cpu`).fill('2');
  await expect(page.getByTestId('manifest-blocked')).toHaveCount(0);

  // A YAML syntax error is shown on its line, and the form waits until it is fixed.
  await editor.getByRole('button', { name: 'YAML', exact: true }).click();
  await editor.locator('#mf-yaml').fill('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web\nspec: {}\n');
  await expect(editor.locator('.gutter li.has-problem')).toHaveCount(1);
  await expect(editor.getByTestId('yaml-problems')).toContainText('not valid YAML');
  const line = await editor.locator('.gutter li.has-problem').getAttribute('data-line');
  expect(Number(line)).toBeGreaterThanOrEqual(3);
  await editor.getByRole('button', { name: 'Form', exact: true }).click();
  await expect(editor).toHaveAttribute('data-mode', 'yaml');
});

test('Edit on the Infrastructure tab applies a changed live object after confirmation', async ({ page, cluster }) => {
  const app = await createApp(page, cluster, 'mfinfra');
  const ns = app;
  expect((await cluster.request('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
  const applied = await cluster.request('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/api?fieldManager=e2e&force=true`, {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'api', labels: { 'app.kubernetes.io/name': app }, annotations: { 'team.example.com/owner': 'api' } },
    spec: { replicas: 1, selector: { matchLabels: { app: 'api' } },
      template: { metadata: { labels: { app: 'api', 'app.kubernetes.io/name': app } }, spec: { containers: [{ name: 'main', image: 'registry.local/api:1' }] } } },
  }, 'application/apply-patch+yaml');
  expect(applied.status).toBeLessThan(300);
  await open(page, `/applications/${app}`);
  const tab = page.getByTestId('tab-infrastructure');
  await tab.locator('[data-cluster="api"] header button.name').click();
  const details = page.getByTestId('details');
  await details.getByTestId('edit-object-button').click();
  const editor = details.getByTestId('manifest-editor');
  await expect(field(editor, 'spec.replicas')).toHaveValue('1');
  await field(editor, 'spec.replicas').fill('2');
  await details.getByRole('button', { name: 'Apply' }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Confirm action' });
  await expect(confirm).toContainText('Apply an edit of deployment api?');
  await confirm.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.locator('li.task[data-state="succeeded"]')).toContainText('applied');
  const live = (await cluster.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/api`)).body;
  expect(live.spec.replicas).toBe(2);
  expect(live.metadata.annotations['team.example.com/owner']).toBe('api');
});

/** A free port on this machine. */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Debian's `docker-registry` on a free port with its own storage (installed by ./x). */
async function startRegistry() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'topsail-registry-'));
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await expect.poll(async () => (await fetch(`${url}/v2/`).catch(() => null))?.status, { timeout: 20_000 }).toBe(200);
  const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
  const upload = async (repository: string, blob: Buffer) => {
    const started = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, url);
    location.searchParams.set('digest', sha(blob));
    const put = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
    return sha(blob);
  };
  /** Pushes a small image (an OCI manifest, a config and one layer) as `repository:tag`. */
  const push = async (repository: string, tag: string) => {
    const layer = Buffer.from(`layer of ${repository}:${tag}`);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
    const manifest = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await upload(repository, config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await upload(repository, layer), size: layer.length }],
    });
    const put = await fetch(`${url}/v2/${repository}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    expect(put.status).toBe(201);
  };
  const stop = async () => {
    proc.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { url, host: `127.0.0.1:${port}`, push, stop };
}

test('an image is picked from a registry: one of its repositories and one of their tags', async ({ browser }) => {
  const registry = await startRegistry();
  const topsail = await startTopsail({ TOPSAIL_CONFIG: configFile(`[[registries]]\nname = "local"\naddress = "${registry.url}"\n`) });
  try {
    await registry.push('demo/api', '1.0');
    await registry.push('demo/api', '1.1');
    const context = await browser.newContext({ baseURL: topsail.url });
    const page = await context.newPage();
    await signIn(page, topsail);
    const app = uniqueName('mfpick');
    await page.request.post('/api/applications/create', { data: { input: { name: app, ownerEmail: 'ops@example.com' } } });
    const workload = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api' },
      spec: { selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'to-be-picked' }] } } } };
    const saved = await page.request.post('/api/pipelines/save', { data: { pipeline: { application: app, name: 'Pick', stages: [
      { refId: '1', type: 'deployManifest', name: 'Deploy', account: 'none', manifests: [workload], requisiteStageRefIds: [] }] } } });
    expect(saved.status()).toBe(200);
    await open(page, `/applications/${app}/pipelines/edit/Pick`);
    await page.getByTestId('editor-graph').locator('g.node[data-stage="1"]').click();
    const editor = page.getByTestId('manifest-editor');
    const picker = editor.locator('details.image-picker').first();
    await picker.locator('summary').click();
    await expect(picker.getByLabel('Registry')).toHaveValue('local');
    await expect(picker.locator('datalist option[value="demo/api"]')).toHaveCount(1);
    await picker.getByLabel('Repository').fill('demo/api');
    await picker.getByLabel('Repository').press('Enter');
    await picker.getByLabel('Repository').blur();
    await expect(picker.getByLabel('Tag').locator('option')).toHaveText(['1.1', '1.0']);
    await picker.getByLabel('Tag').selectOption('1.0');
    await picker.getByRole('button', { name: 'Use this image' }).click();
    await expect(field(editor, 'spec.template.spec.containers[0].image')).toHaveValue(`${registry.host}/demo/api:1.0`);
    await context.close();
  } finally {
    await topsail.stop();
    await registry.stop();
  }
});
