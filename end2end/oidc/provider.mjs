// A real OpenID Connect provider (the npm package `oidc-provider`) for Topsail's single sign-on
// tests. It serves one confidential client, `topsail`, and the users of a JSON file.
//
//   node end2end/oidc/provider.mjs --client-secret S --users users.json
//        [--token-auth-method client_secret_basic|client_secret_post]
//        [--claims-in-userinfo]
//
// users.json: [{"sub":"u1","username":"alice","password":"…","email":"…","groups":["releasers"]}]
//
// Protocol with the test that starts it:
// - stdout gets exactly one line `issuer http://127.0.0.1:<port>` once it answers requests;
// - each line `redirect-uri <url>` written to stdin adds a redirect URI the client `topsail` may
//   use (Topsail listens on port 0, so its callback URL is known only after the provider runs);
//   it answers `redirect-uri set` on stdout;
// - SIGTERM or SIGINT stops it (exit code 0).
// Everything else (oidc-provider's notices, request errors) goes to stderr.
//
// The login page is a plain form (`login`, `password`, a submit button) that checks the password
// from the users file; consent is granted without asking for the client `topsail`. The ID token
// carries `preferred_username` (scope profile), `email` (scope email) and `groups` (scope groups)
// unless `--claims-in-userinfo` is given: then, as the specification's default, those claims are
// only served by the userinfo endpoint.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

// oidc-provider prints its notices with console.info; stdout is reserved for the protocol above.
console.info = (...args) => console.error(...args);

const { values: args } = parseArgs({
  options: {
    'client-secret': { type: 'string' },
    users: { type: 'string' },
    'token-auth-method': { type: 'string', default: 'client_secret_basic' },
    'claims-in-userinfo': { type: 'boolean', default: false },
  },
  strict: true,
});
if (!args['client-secret'] || !args.users) {
  console.error('usage: provider.mjs --client-secret SECRET --users USERS.json [--token-auth-method M] [--claims-in-userinfo]');
  process.exit(2);
}
const tokenAuthMethod = args['token-auth-method'];
if (!['client_secret_basic', 'client_secret_post'].includes(tokenAuthMethod)) {
  console.error(`--token-auth-method must be client_secret_basic or client_secret_post, not ${tokenAuthMethod}`);
  process.exit(2);
}

const users = JSON.parse(fs.readFileSync(args.users, 'utf8'));
if (!Array.isArray(users) || users.some((u) => typeof u.sub !== 'string' || typeof u.username !== 'string')) {
  console.error('--users must name a JSON array of {"sub","username","password","email","groups"}');
  process.exit(2);
}
const usersBySub = new Map(users.map((u) => [u.sub, u]));

const CLIENT_ID = 'topsail';
const redirectUris = new Set();

function clientMetadata() {
  return {
    client_id: CLIENT_ID,
    client_secret: args['client-secret'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [...redirectUris],
    token_endpoint_auth_method: tokenAuthMethod,
  };
}

/**
 * The adapter (oidc-provider's storage): the client `topsail` is read from `clientMetadata()` on
 * every look-up, so redirect URIs added later are accepted (oidc-provider caches a client by the
 * hash of its metadata, so a change makes a new client); everything else lives in memory.
 */
const store = new Map(); // `${model}:${id}` -> { payload, expiresAt }
class Adapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload, expiresAt });
  }

  async find(id) {
    if (this.model === 'Client') {
      return id === CLIENT_ID && redirectUris.size > 0 ? clientMetadata() : undefined;
    }
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findBy(field, value) {
    for (const [key, entry] of store) {
      if (key.startsWith(`${this.model}:`) && entry.payload[field] === value && entry.expiresAt > Date.now()) {
        return entry.payload;
      }
    }
    return undefined;
  }

  async findByUid(uid) {
    return this.findBy('uid', uid);
  }

  async findByUserCode(userCode) {
    return this.findBy('userCode', userCode);
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of store) {
      if (entry.payload.grantId === grantId) store.delete(key);
    }
  }
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<h1>Sign in</h1>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label>Username <input name="login" autofocus></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button>
</form>
</body></html>
`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

/** Grants the client what it asked for: Topsail is a first-party application. */
async function grantRequested(provider, clientId, accountId, scope, grantId) {
  const grant = (grantId && (await provider.Grant.find(grantId))) || new provider.Grant({ clientId, accountId });
  grant.addOIDCScope(scope);
  return grant.save();
}

async function main() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-1', use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    adapter: Adapter,
    jwks: { keys: [signingKey] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    clientAuthMethods: [tokenAuthMethod],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    conformIdTokenClaims: args['claims-in-userinfo'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    async findAccount(_ctx, sub) {
      const user = usersBySub.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            preferred_username: user.username,
            name: user.name ?? user.username,
            email: user.email,
            email_verified: user.email !== undefined,
            groups: user.groups ?? [],
          };
        },
      };
    },
    // No consent screen for Topsail: grant the requested scopes when the client asks.
    async loadExistingGrant(ctx) {
      const { client, session, params } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      if (client.clientId !== CLIENT_ID) {
        return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
      }
      const savedId = await grantRequested(ctx.oidc.provider, client.clientId, session.accountId, params.scope, grantId);
      return ctx.oidc.provider.Grant.find(savedId);
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><html><head><title>Error</title></head><body><h1>Error</h1><p>${escapeHtml(out.error)}: ${escapeHtml(out.error_description ?? '')}</p></body></html>`;
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));

  const providerCallback = provider.callback();

  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    const route = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (!route) {
      providerCallback(req, res);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== route[1]) throw new Error('interaction mismatch');
      const html = (status, body) => {
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(body);
      };

      if (details.prompt.name === 'consent') {
        // Not reached for `topsail` (see loadExistingGrant), but never leave a browser stuck.
        const grantId = await grantRequested(provider, details.params.client_id, details.session.accountId, details.params.scope, details.grantId);
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return;
      }

      if (req.method === 'GET' && !route[2]) {
        html(200, loginPage(details.uid));
        return;
      }
      if (req.method === 'POST' && route[2]) {
        const form = await readForm(req);
        const login = form.get('login') ?? '';
        const password = form.get('password') ?? '';
        const user = users.find((u) => u.username === login || (u.email !== undefined && u.email === login));
        const ok = user !== undefined
          && typeof user.password === 'string'
          && user.password.length === password.length
          && crypto.timingSafeEqual(Buffer.from(user.password), Buffer.from(password));
        if (!ok) {
          html(200, loginPage(details.uid, 'Invalid username or password.'));
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
        return;
      }
      res.writeHead(405).end();
    } catch (err) {
      console.error('interaction failed:', err);
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('This sign-in has expired or is invalid. Start again from the application.\n');
      }
    }
  });

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const m = line.trim().match(/^redirect-uri (\S+)$/);
    if (!m) {
      console.error(`ignored stdin line: ${line}`);
      return;
    }
    try {
      const parsed = new URL(m[1]);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    } catch (err) {
      console.error(`ignored redirect URI ${m[1]}: ${err.message}`);
      return;
    }
    redirectUris.add(m[1]);
    process.stdout.write('redirect-uri set\n');
  });

  process.stdout.write(`issuer ${issuer}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
