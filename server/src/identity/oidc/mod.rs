//! Single sign-on by OpenID Connect: the authorization code flow with PKCE (S256).
//!
//! A small adapter around the `openidconnect` crate that knows nothing else of Topsail: it turns
//! settings into an authorization URL plus a [`PendingLogin`] to keep server-side, and a returned
//! code into an [`OidcUser`] (subject, username, groups). Sessions, the `next` path, the mapping
//! of groups to roles and the HTTP routes are the caller's.
//!
//! - [`OidcClient::new`] never contacts the provider, so Topsail starts while it is down. The
//!   discovery document and the signing keys (JWKS) are fetched on the first sign-in and kept; a
//!   failed fetch is tried again on the next sign-in. An ID token signed with a key the cached set
//!   does not have (the provider rotated its keys) fetches them again, at most every 30 s.
//! - Every call to the provider has a timeout (5 s to connect, 10 s in all), follows no
//!   redirect, and reads at most 1 MiB of response.
//! - The ID token is verified (signature with an algorithm the provider announces, issuer,
//!   audience, expiry, nonce). The username and groups are read from it; when it lacks the
//!   configured username claim or the groups claim and the provider has a userinfo endpoint, the
//!   userinfo claims (for the same subject) fill in what the ID token does not have.
//! - [`OidcError`] tells "single sign-on is not available" (the provider cannot be reached or
//!   Topsail's settings do not fit it) from "this sign-in was refused"; its `Display` is for the
//!   log, [`OidcError::public_message`] is what a person may see.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AsyncHttpClient, AuthType, AuthenticationFlow, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, DiscoveryError,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
    StandardErrorResponse, StandardTokenResponse, UserInfoClaims, UserInfoError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest wait for one call to the provider, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a connection to the provider.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response read from the provider (discovery, keys, token, userinfo).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// An unknown signing key fetches the provider's keys again, but not more often than this.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// How Topsail signs in with an OpenID provider.
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer URL; `<issuer>/.well-known/openid-configuration` is its discovery document.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes asked for besides `openid` (which is always asked for). A scope the provider's
    /// discovery document does not list in `scopes_supported` is left out, with a warning, so
    /// the default also works with providers that have no `groups` scope.
    pub scopes: Vec<String>,
    /// The claim that names the user. When it is missing (or not a non-empty string), the
    /// username is `email` (unless `email_verified` is `false`), then `sub`. A name with dots
    /// (`realm_access.name`) also finds nested claims when no claim has that exact name.
    pub username_claim: String,
    /// The claim that lists the user's groups: an array of strings or a single string. Dots find
    /// nested claims as for `username_claim` (Keycloak's `realm_access.roles`).
    pub groups_claim: String,
}

impl OidcSettings {
    /// Settings with the defaults: scopes `profile`, `email`, `groups`; username claim
    /// `preferred_username`; groups claim `groups`.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        OidcSettings {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: ["profile", "email", "groups"].map(String::from).to_vec(),
            username_claim: "preferred_username".to_owned(),
            groups_claim: "groups".to_owned(),
        }
    }
}

impl fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("groups_claim", &self.groups_claim)
            .finish()
    }
}

/// What [`OidcClient::finish`] needs from [`OidcClient::begin`]: keep it server-side (keyed by
/// `state`, which comes back on the callback) for a few minutes, and use it once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state", &self.state)
            .field("nonce", &"<redacted>")
            .field("pkce_verifier", &"<redacted>")
            .finish()
    }
}

/// A user the provider vouched for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcUser {
    /// The provider's stable identifier for the user (`sub`).
    pub subject: String,
    pub username: String,
    /// In the provider's order, without duplicates or empty names.
    pub groups: Vec<String>,
}

/// Why a sign-in could not be done. `Display` gives details for the log (never secrets);
/// show people [`OidcError::public_message`].
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider cannot be reached or answers with something other than OpenID Connect.
    #[error("single sign-on is not reachable: {0}")]
    Unavailable(String),
    /// Topsail's settings do not fit the provider (an invalid issuer or redirect URI, a client
    /// the provider does not know or whose secret is wrong, no ID token in the answer).
    #[error("single sign-on is misconfigured: {0}")]
    Misconfigured(String),
    /// The provider refused this sign-in, or what it returned is not valid for it (an expired or
    /// reused code, a wrong nonce or signature, no usable subject).
    #[error("the single sign-on was refused: {0}")]
    Refused(String),
}

impl OidcError {
    /// A sentence for the person signing in, without internals.
    pub fn public_message(&self) -> &'static str {
        match self {
            OidcError::Unavailable(_) | OidcError::Misconfigured(_) => {
                "Single sign-on is not available right now. Try again later, or sign in with a password."
            }
            OidcError::Refused(_) => "The sign-in was refused or has expired. Please try again.",
        }
    }
}

/// The claims of the ID token and userinfo that `openidconnect` has no field for (`groups`, …),
/// kept whole so the claim names can be settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
struct OtherClaims(Map<String, Value>);

impl AdditionalClaims for OtherClaims {}

type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// The `openidconnect` client as built from discovery: authorization endpoint set, token and
/// userinfo endpoints as the provider announces them.
type DiscoveredClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery found, ready to use.
struct Provider {
    client: DiscoveredClient,
    scopes: Vec<Scope>,
    fetched_at: Instant,
}

/// Signs users in with one OpenID provider. Cheap to share (`Arc<OidcClient>`); safe to use from
/// many requests at once.
pub struct OidcClient {
    settings: OidcSettings,
    issuer: IssuerUrl,
    http: Http,
    provider: Mutex<Option<Arc<Provider>>>,
}

impl fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    /// Checks the settings and prepares the HTTP client; does not contact the provider.
    pub fn new(settings: OidcSettings) -> Result<Self, OidcError> {
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|err| {
            OidcError::Misconfigured(format!(
                "the issuer {:?} is not a URL: {err}",
                settings.issuer
            ))
        })?;
        let scheme = issuer.url().scheme();
        if scheme != "https" && scheme != "http" {
            return Err(OidcError::Misconfigured(format!(
                "the issuer {:?} is not an http(s) URL",
                settings.issuer
            )));
        }
        if scheme == "http" && !is_loopback(issuer.url()) {
            tracing::warn!(issuer = %settings.issuer, "the single sign-on issuer is not https: codes and tokens cross the network in clear");
        }
        if settings.client_id.is_empty() {
            return Err(OidcError::Misconfigured(
                "the client id is empty".to_owned(),
            ));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|err| {
                OidcError::Misconfigured(format!("cannot build the HTTP client: {}", chain(&err)))
            })?;
        Ok(OidcClient {
            settings,
            issuer,
            http: Http { client },
            provider: Mutex::new(None),
        })
    }

    /// Starts a sign-in: the URL of the provider's authorization endpoint to send the browser to,
    /// and what [`OidcClient::finish`] will need. `redirect_uri` is Topsail's callback URL, as
    /// registered with the provider.
    pub async fn begin(&self, redirect_uri: &str) -> Result<(String, PendingLogin), OidcError> {
        let redirect = redirect_url(redirect_uri)?;
        let provider = self.provider().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = provider
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(provider.scopes.iter().cloned())
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect))
            .url();
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        };
        Ok((url.into(), pending))
    }

    /// Ends a sign-in: exchanges the `code` the provider returned (with the same `redirect_uri`
    /// as [`OidcClient::begin`]), verifies the ID token and reads the user from it (and from
    /// userinfo if the ID token lacks the username or groups claim). The caller has already
    /// matched the callback's `state` to `pending`.
    pub async fn finish(
        &self,
        pending: &PendingLogin,
        code: &str,
        redirect_uri: &str,
    ) -> Result<OidcUser, OidcError> {
        let redirect = redirect_url(redirect_uri)?;
        if code.is_empty() {
            return Err(OidcError::Refused("the callback has no code".to_owned()));
        }
        let provider = self.provider().await?;
        let token = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| {
                OidcError::Misconfigured("the provider announces no token endpoint".to_owned())
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = token.extra_fields().id_token().ok_or_else(|| {
            OidcError::Misconfigured(
                "the token response has no ID token (does the provider allow the openid scope for this client?)"
                    .to_owned(),
            )
        })?;
        let nonce = Nonce::new(pending.nonce.clone());

        // A key the cached set lacks may be a new one: fetch the keys again and verify again.
        let key_missing = matches!(
            id_token.claims(&provider.client.id_token_verifier(), &nonce),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        );
        let provider = if key_missing {
            self.refresh(&provider).await?
        } else {
            provider
        };
        let verified = id_token
            .claims(&provider.client.id_token_verifier(), &nonce)
            .map_err(id_token_error)?;
        let id_claims = claims_map(verified)?;
        let subject = verified.subject().clone();

        let claims = if needs_userinfo(&id_claims, &self.settings)
            && provider.client.user_info_url().is_some()
        {
            let userinfo: UserInfoClaims<OtherClaims, CoreGenderClaim> = provider
                .client
                .user_info(token.access_token().clone(), Some(subject))
                .map_err(|_| {
                    OidcError::Misconfigured(
                        "the provider announces no userinfo endpoint".to_owned(),
                    )
                })?
                .request_async(&self.http)
                .await
                .map_err(userinfo_error)?;
            merge_claims(id_claims, claims_map(&userinfo)?)
        } else {
            id_claims
        };
        user_from_claims(&claims, &self.settings)
    }

    /// The provider as discovered, discovering it now if it has not been yet (or failed).
    async fn provider(&self) -> Result<Arc<Provider>, OidcError> {
        if let Some(provider) = self.cached() {
            return Ok(provider);
        }
        let provider = Arc::new(self.discover().await?);
        *self.provider.lock().unwrap_or_else(PoisonError::into_inner) = Some(provider.clone());
        Ok(provider)
    }

    /// Discovers the provider again because `stale` lacks a key, unless that was done recently
    /// (then the cached one is used as it is).
    async fn refresh(&self, stale: &Arc<Provider>) -> Result<Arc<Provider>, OidcError> {
        if let Some(cached) = self.cached()
            && (!Arc::ptr_eq(&cached, stale) || cached.fetched_at.elapsed() < MIN_REFRESH_INTERVAL)
        {
            return Ok(cached);
        }
        tracing::info!(issuer = %self.settings.issuer, "an ID token is signed with an unknown key: fetching the provider's keys again");
        let provider = Arc::new(self.discover().await?);
        *self.provider.lock().unwrap_or_else(PoisonError::into_inner) = Some(provider.clone());
        Ok(provider)
    }

    fn cached(&self) -> Option<Arc<Provider>> {
        self.provider
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn discover(&self) -> Result<Provider, OidcError> {
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|err| discovery_error(&self.settings.issuer, err))?;

        let supported: Option<Vec<String>> = metadata.scopes_supported().map(|scopes| {
            scopes
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect()
        });
        let (scopes, dropped) = scopes_to_request(&self.settings.scopes, supported.as_deref());
        if !dropped.is_empty() {
            tracing::warn!(issuer = %self.settings.issuer, scopes = ?dropped, "the single sign-on provider does not list these scopes: not asking for them");
        }
        let auth_type = auth_type(
            metadata
                .token_endpoint_auth_methods_supported()
                .map(Vec::as_slice),
        );
        tracing::info!(issuer = %self.settings.issuer, ?auth_type, ?scopes, "single sign-on provider discovered");

        let client = DiscoveredClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_auth_type(auth_type);
        Ok(Provider {
            client,
            scopes: scopes.into_iter().map(Scope::new).collect(),
            fetched_at: Instant::now(),
        })
    }
}

/// The scopes to ask for besides `openid`: the configured ones the provider lists (all of them
/// when it lists none), and those left out.
fn scopes_to_request(
    configured: &[String],
    supported: Option<&[String]>,
) -> (Vec<String>, Vec<String>) {
    let mut kept: Vec<String> = Vec::new();
    let mut dropped = Vec::new();
    for scope in configured {
        let scope = scope.trim();
        if scope.is_empty() || scope == "openid" || kept.iter().any(|s| s == scope) {
            continue;
        }
        match supported {
            Some(supported) if !supported.iter().any(|s| s == scope) => {
                dropped.push(scope.to_owned())
            }
            _ => kept.push(scope.to_owned()),
        }
    }
    (kept, dropped)
}

/// How to send the client secret: HTTP Basic unless the provider only takes it in the body
/// (no list means Basic, the specification's default).
fn auth_type(supported: Option<&[CoreClientAuthMethod]>) -> AuthType {
    match supported {
        Some(methods)
            if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
        {
            AuthType::RequestBody
        }
        _ => AuthType::BasicAuth,
    }
}

fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, OidcError> {
    RedirectUrl::new(redirect_uri.to_owned()).map_err(|err| {
        OidcError::Misconfigured(format!(
            "the redirect URI {redirect_uri:?} is not a URL: {err}"
        ))
    })
}

fn is_loopback(url: &openidconnect::url::Url) -> bool {
    match url.host() {
        Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// All the claims of an ID token or a userinfo answer as JSON, standard and other alike.
fn claims_map<T: Serialize>(claims: &T) -> Result<Map<String, Value>, OidcError> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(OidcError::Refused(
            "the claims are not a JSON object".to_owned(),
        )),
        Err(err) => Err(OidcError::Refused(format!(
            "the claims cannot be read: {err}"
        ))),
    }
}

/// A claim by name, or by a dotted path into nested objects when no claim has that exact name.
fn find_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    if !name.contains('.') {
        return None;
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    let value = find_claim(claims, name)?.as_str()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// The username: the configured claim, else a verified (or not said unverified) `email`, else `sub`.
fn username_from(claims: &Map<String, Value>, username_claim: &str) -> Option<String> {
    string_claim(claims, username_claim)
        .or_else(|| {
            let unverified = claims.get("email_verified") == Some(&Value::Bool(false));
            if unverified {
                None
            } else {
                string_claim(claims, "email")
            }
        })
        .or_else(|| string_claim(claims, "sub"))
}

/// The groups in a claim: an array of strings (other items are skipped) or one string.
fn groups_from(value: Option<&Value>) -> Vec<String> {
    let names: Vec<&str> = match value {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut groups: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let name = name.trim();
        if !name.is_empty() && !groups.iter().any(|g| g == name) {
            groups.push(name.to_owned());
        }
    }
    groups
}

/// Whether the ID token lacks what userinfo may have: the configured username claim or the
/// groups claim.
fn needs_userinfo(claims: &Map<String, Value>, settings: &OidcSettings) -> bool {
    string_claim(claims, &settings.username_claim).is_none()
        || find_claim(claims, &settings.groups_claim).is_none()
}

/// The ID token's claims, with those it lacks taken from userinfo.
fn merge_claims(
    mut id_token: Map<String, Value>,
    userinfo: Map<String, Value>,
) -> Map<String, Value> {
    for (name, value) in userinfo {
        id_token.entry(name).or_insert(value);
    }
    id_token
}

fn user_from_claims(
    claims: &Map<String, Value>,
    settings: &OidcSettings,
) -> Result<OidcUser, OidcError> {
    let subject = string_claim(claims, "sub")
        .ok_or_else(|| OidcError::Refused("the ID token has no subject".to_owned()))?;
    let username = username_from(claims, &settings.username_claim)
        .ok_or_else(|| OidcError::Refused("the claims name no user".to_owned()))?;
    let groups = groups_from(find_claim(claims, &settings.groups_claim));
    Ok(OidcUser {
        subject,
        username,
        groups,
    })
}

mod transport;
use transport::*;

#[cfg(test)]
mod tests;
