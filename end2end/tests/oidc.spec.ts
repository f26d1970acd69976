import { test, expect, type Page } from '@playwright/test';
import { startOidcProvider, startTopsail, type OidcProvider, type OidcTestUser, type Topsail } from './fixtures';

// Single sign-on against a real OpenID provider (end2end/oidc/provider.mjs): the authorization
// code flow with PKCE, the username and groups from the ID token, groups mapped to roles.

const alice: OidcTestUser = {
  sub: 'u-alice',
  username: 'alice',
  password: 'alice-in-wonderland',
  email: 'alice@example.com',
  groups: ['releasers'],
};
const carol: OidcTestUser = {
  sub: 'u-carol',
  username: 'carol',
  password: 'carol-the-admin',
  email: 'carol@example.com',
  groups: ['admins'],
};

let provider: OidcProvider;
let topsail: Topsail;

test.beforeAll(async () => {
  provider = await startOidcProvider([alice, carol]);
  topsail = await startTopsail({
    TOPSAIL_OIDC_ISSUER: provider.issuer,
    TOPSAIL_OIDC_CLIENT_ID: provider.clientId,
    TOPSAIL_OIDC_CLIENT_SECRET: provider.clientSecret,
    TOPSAIL_OIDC_GROUPS_CLAIM: 'groups',
    TOPSAIL_OIDC_ADMIN_GROUPS: 'admins',
  });
  // Topsail listens on a port chosen at start, so the provider learns its callback only now.
  await provider.setRedirectUri(`${topsail.url}/auth/oidc/callback`);
});

test.afterAll(async () => {
  await topsail?.stop();
  await provider?.stop();
});

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Opens a protected page signed out, signs in at the provider, and lands back on that page. */
async function signInWithSingleSignOn(page: Page, user: OidcTestUser) {
  await page.goto(`${topsail.url}/applications`);
  await expect(page).toHaveURL(/\/login(\?|$)/);
  await page.getByText('Sign in with single sign-on').click();

  await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(provider.issuer)}/interaction/`));
  await page.locator('input[name="login"]').fill(user.username);
  await page.locator('input[name="password"]').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();

  await expect(page).toHaveURL(`${topsail.url}/applications`);
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
}

test('a user signs in with single sign-on and gets the roles of her groups', async ({ page }) => {
  await signInWithSingleSignOn(page, alice);

  // The user menu names her and her groups.
  await page.getByRole('button', { name: /alice/ }).click();
  await expect(page.getByText('alice').first()).toBeVisible();
  await expect(page.getByText('releasers').first()).toBeVisible();

  // The browser's session is hers.
  const who = await page.request.get(`${topsail.url}/gate/auth/user`);
  expect(who.status()).toBe(200);
  expect(await who.json()).toMatchObject({ username: 'alice', roles: ['releasers'], admin: false });

  // She is not an administrator.
  const users = await page.request.post(`${topsail.url}/api/users/list`, { data: {} });
  expect(users.status()).toBe(403);
});

test('a member of an administrators group is an administrator', async ({ page }) => {
  await signInWithSingleSignOn(page, carol);

  const who = await page.request.get(`${topsail.url}/gate/auth/user`);
  expect(await who.json()).toMatchObject({ username: 'carol' });

  const users = await page.request.post(`${topsail.url}/api/users/list`, { data: {} });
  expect(users.status()).toBe(200);
});
