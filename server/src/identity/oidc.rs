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

/// An error and its causes, one after the other (reqwest puts "connection refused" three deep).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn discovery_error(issuer: &str, err: DiscoveryError<HttpError>) -> OidcError {
    match err {
        DiscoveryError::Request(err) => {
            OidcError::Unavailable(format!("discovery of {issuer}: {}", chain(&err)))
        }
        DiscoveryError::Response(status, _, message) => OidcError::Unavailable(format!(
            "discovery of {issuer} answered {status}: {message}"
        )),
        other => OidcError::Misconfigured(format!("discovery of {issuer}: {}", chain(&other))),
    }
}

fn token_error(
    err: RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>,
) -> OidcError {
    match err {
        RequestTokenError::ServerResponse(response) => match response.error() {
            CoreErrorResponseType::InvalidClient | CoreErrorResponseType::UnauthorizedClient => {
                OidcError::Misconfigured(format!(
                    "the token endpoint refused the client: {response}"
                ))
            }
            CoreErrorResponseType::Extension(code)
                if code == "server_error" || code == "temporarily_unavailable" =>
            {
                OidcError::Unavailable(format!("the token endpoint failed: {response}"))
            }
            _ => OidcError::Refused(format!("the token endpoint refused the code: {response}")),
        },
        RequestTokenError::Request(err) => {
            OidcError::Unavailable(format!("the token endpoint: {}", chain(&err)))
        }
        // The body is not logged: it may hold tokens.
        RequestTokenError::Parse(err, _) => OidcError::Unavailable(format!(
            "the token endpoint's answer is not a token response: {err}"
        )),
        RequestTokenError::Other(message) => {
            OidcError::Unavailable(format!("the token endpoint: {message}"))
        }
    }
}

fn id_token_error(err: ClaimsVerificationError) -> OidcError {
    OidcError::Refused(format!("the ID token is not valid: {}", chain(&err)))
}

fn userinfo_error(err: UserInfoError<HttpError>) -> OidcError {
    match err {
        UserInfoError::Request(err) => {
            OidcError::Unavailable(format!("the userinfo endpoint: {}", chain(&err)))
        }
        UserInfoError::Response(status, _, message) if status.is_client_error() => {
            OidcError::Refused(format!(
                "the userinfo endpoint answered {status}: {message}"
            ))
        }
        UserInfoError::Response(status, _, message) => OidcError::Unavailable(format!(
            "the userinfo endpoint answered {status}: {message}"
        )),
        UserInfoError::ClaimsVerification(err) => OidcError::Refused(format!(
            "the userinfo claims are not valid: {}",
            chain(&err)
        )),
        other => OidcError::Unavailable(format!("the userinfo endpoint: {}", chain(&other))),
    }
}

/// The HTTP client `openidconnect` calls the provider with: reqwest (rustls), no redirects,
/// timeouts, and a cap on the response size.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    #[error("the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("the answer cannot be read: {0}")]
    Response(#[from] openidconnect::http::Error),
}

impl Http {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let mut response = self.client.execute(request).await?;
        if response
            .content_length()
            .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
        {
            return Err(HttpError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = openidconnect::http::Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        Ok(answer.body(body)?)
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn settings() -> OidcSettings {
        OidcSettings::new("https://sso.example.com", "topsail", "secret")
    }

    #[test]
    fn the_username_is_the_configured_claim_then_email_then_sub() {
        let all =
            claims(json!({"sub": "u1", "preferred_username": "alice", "email": "a@example.com"}));
        assert_eq!(
            username_from(&all, "preferred_username").as_deref(),
            Some("alice")
        );

        let no_name = claims(json!({"sub": "u1", "email": "a@example.com"}));
        assert_eq!(
            username_from(&no_name, "preferred_username").as_deref(),
            Some("a@example.com")
        );

        let only_sub = claims(json!({"sub": "u1"}));
        assert_eq!(
            username_from(&only_sub, "preferred_username").as_deref(),
            Some("u1")
        );

        let custom = claims(json!({"sub": "u1", "upn": "alice@corp", "preferred_username": "al"}));
        assert_eq!(username_from(&custom, "upn").as_deref(), Some("alice@corp"));
    }

    #[test]
    fn an_empty_or_non_string_username_claim_falls_back() {
        let empty =
            claims(json!({"sub": "u1", "preferred_username": "  ", "email": "a@example.com"}));
        assert_eq!(
            username_from(&empty, "preferred_username").as_deref(),
            Some("a@example.com")
        );

        let number = claims(json!({"sub": "u1", "preferred_username": 42}));
        assert_eq!(
            username_from(&number, "preferred_username").as_deref(),
            Some("u1")
        );
    }

    #[test]
    fn an_email_said_unverified_is_not_a_username() {
        let unverified =
            claims(json!({"sub": "u1", "email": "a@example.com", "email_verified": false}));
        assert_eq!(
            username_from(&unverified, "preferred_username").as_deref(),
            Some("u1")
        );

        let verified =
            claims(json!({"sub": "u1", "email": "a@example.com", "email_verified": true}));
        assert_eq!(
            username_from(&verified, "preferred_username").as_deref(),
            Some("a@example.com")
        );
    }

    #[test]
    fn claims_without_a_subject_or_any_name_are_refused() {
        let no_sub = claims(json!({"preferred_username": "alice"}));
        assert!(matches!(
            user_from_claims(&no_sub, &settings()),
            Err(OidcError::Refused(_))
        ));
        let empty_sub = claims(json!({"sub": ""}));
        assert!(matches!(
            user_from_claims(&empty_sub, &settings()),
            Err(OidcError::Refused(_))
        ));
    }

    #[test]
    fn groups_are_an_array_or_a_single_string() {
        let array = claims(json!({"groups": ["releasers", "admins"]}));
        assert_eq!(
            groups_from(find_claim(&array, "groups")),
            ["releasers", "admins"]
        );

        let single = claims(json!({"groups": "releasers"}));
        assert_eq!(groups_from(find_claim(&single, "groups")), ["releasers"]);
    }

    #[test]
    fn missing_or_odd_groups_are_no_groups() {
        let none = claims(json!({"sub": "u1"}));
        assert!(groups_from(find_claim(&none, "groups")).is_empty());

        let null = claims(json!({"groups": null}));
        assert!(groups_from(find_claim(&null, "groups")).is_empty());

        let object = claims(json!({"groups": {"a": 1}}));
        assert!(groups_from(find_claim(&object, "groups")).is_empty());

        let mixed = claims(json!({"groups": ["a", 1, null, "", " b ", "a", {"c": 1}]}));
        assert_eq!(groups_from(find_claim(&mixed, "groups")), ["a", "b"]);
    }

    #[test]
    fn dotted_claim_names_find_nested_claims_after_exact_names() {
        let keycloak = claims(json!({"realm_access": {"roles": ["releasers"]}}));
        assert_eq!(
            groups_from(find_claim(&keycloak, "realm_access.roles")),
            ["releasers"]
        );

        let namespaced = claims(json!({"https://example.com/groups": ["admins"]}));
        assert_eq!(
            groups_from(find_claim(&namespaced, "https://example.com/groups")),
            ["admins"]
        );

        let not_nested = claims(json!({"realm_access": "x"}));
        assert_eq!(find_claim(&not_nested, "realm_access.roles"), None);
    }

    #[test]
    fn a_user_from_id_token_claims() {
        let id_token = claims(json!({
            "sub": "u1", "preferred_username": "alice", "email": "a@example.com", "groups": ["releasers"]
        }));
        let user = user_from_claims(&id_token, &settings()).unwrap();
        assert_eq!(
            user,
            OidcUser {
                subject: "u1".into(),
                username: "alice".into(),
                groups: vec!["releasers".into()]
            }
        );
        assert!(!needs_userinfo(&id_token, &settings()));
    }

    #[test]
    fn userinfo_fills_in_what_the_id_token_lacks() {
        let id_token = claims(json!({"sub": "u1", "email": "a@example.com"}));
        assert!(needs_userinfo(&id_token, &settings()));
        let userinfo = claims(
            json!({"sub": "u1", "preferred_username": "alice", "groups": ["releasers"], "email": "other@example.com"}),
        );
        let merged = merge_claims(id_token, userinfo);
        let user = user_from_claims(&merged, &settings()).unwrap();
        assert_eq!(user.username, "alice");
        assert_eq!(user.groups, ["releasers"]);
        assert_eq!(merged["email"], "a@example.com", "the ID token wins");

        let empty_groups =
            claims(json!({"sub": "u1", "preferred_username": "alice", "groups": []}));
        assert!(
            !needs_userinfo(&empty_groups, &settings()),
            "an empty list is an answer"
        );
    }

    #[test]
    fn id_token_claims_keep_standard_and_other_claims() {
        // What openidconnect parses is turned back into JSON whole: `groups` is not a standard claim.
        let raw = json!({
            "iss": "https://sso.example.com", "aud": "topsail", "exp": 2000000000, "iat": 1700000000,
            "sub": "u1", "preferred_username": "alice", "email": "a@example.com",
            "email_verified": "true", "groups": ["releasers"], "realm_access": {"roles": ["r"]}
        });
        let parsed: openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim> =
            serde_json::from_value(raw).unwrap();
        let map = claims_map(&parsed).unwrap();
        let user = user_from_claims(&map, &settings()).unwrap();
        assert_eq!(user.username, "alice");
        assert_eq!(user.groups, ["releasers"]);
        assert_eq!(map["email_verified"], true);
        assert_eq!(groups_from(find_claim(&map, "realm_access.roles")), ["r"]);
    }

    #[test]
    fn scopes_are_those_the_provider_lists() {
        let configured = ["profile", "email", "groups", "openid", "email"].map(String::from);
        let supported = ["openid", "profile", "email"].map(String::from);
        assert_eq!(
            scopes_to_request(&configured, Some(&supported)),
            (
                vec!["profile".to_owned(), "email".to_owned()],
                vec!["groups".to_owned()]
            )
        );
        assert_eq!(
            scopes_to_request(&configured, None).0,
            ["profile", "email", "groups"],
            "a provider that lists no scopes gets all"
        );
    }

    #[test]
    fn the_secret_goes_by_basic_auth_unless_only_post_is_offered() {
        use CoreClientAuthMethod::{ClientSecretBasic, ClientSecretPost};
        assert!(matches!(auth_type(None), AuthType::BasicAuth));
        assert!(matches!(
            auth_type(Some(&[ClientSecretPost, ClientSecretBasic])),
            AuthType::BasicAuth
        ));
        assert!(matches!(
            auth_type(Some(&[ClientSecretPost])),
            AuthType::RequestBody
        ));
    }

    #[test]
    fn pending_logins_round_trip_and_hide_their_secrets() {
        let pending = PendingLogin {
            state: "st".into(),
            nonce: "no-secret-nonce".into(),
            pkce_verifier: "no-secret-verifier".into(),
        };
        let json = serde_json::to_string(&pending).unwrap();
        assert_eq!(
            serde_json::from_str::<PendingLogin>(&json).unwrap(),
            pending
        );
        let debug = format!("{pending:?}");
        assert!(debug.contains("st") && !debug.contains("no-secret"));
        assert!(!format!("{:?}", settings()).contains("secret\""));
    }

    #[test]
    fn settings_that_cannot_work_are_refused_at_once() {
        let bad_issuer = OidcSettings::new("not a url", "topsail", "s");
        assert!(matches!(
            OidcClient::new(bad_issuer),
            Err(OidcError::Misconfigured(_))
        ));
        let ftp = OidcSettings::new("ftp://sso.example.com", "topsail", "s");
        assert!(matches!(
            OidcClient::new(ftp),
            Err(OidcError::Misconfigured(_))
        ));
        let no_client = OidcSettings::new("https://sso.example.com", "", "s");
        assert!(matches!(
            OidcClient::new(no_client),
            Err(OidcError::Misconfigured(_))
        ));
    }

    #[test]
    fn sign_ins_can_run_on_any_thread() {
        fn is_send<T: Send>(_: &T) {}
        fn is_shared<T: Send + Sync>() {}
        is_shared::<OidcClient>();
        let client = OidcClient::new(settings()).unwrap();
        let pending = PendingLogin {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
        };
        is_send(&client.begin("https://topsail.example.com/auth/oidc/callback"));
        is_send(&client.finish(
            &pending,
            "code",
            "https://topsail.example.com/auth/oidc/callback",
        ));
    }

    /// Answers one HTTP request on a free loopback port with `head` and `body_len` bytes of JSON
    /// whitespace; returns the port.
    fn serve_once(head: &'static str, body_len: usize) -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&vec![b' '; body_len]);
        });
        port
    }

    #[tokio::test]
    async fn answers_larger_than_the_cap_are_not_read() {
        let announced = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2000000\r\n\r\n",
            0,
        );
        let streamed = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
            MAX_RESPONSE_BYTES + 1,
        );
        for port in [announced, streamed] {
            let issuer = format!("http://127.0.0.1:{port}");
            let client = OidcClient::new(OidcSettings::new(issuer, "topsail", "s")).unwrap();
            let err = client.begin("http://127.0.0.1:2/cb").await.unwrap_err();
            assert!(
                matches!(err, OidcError::Unavailable(ref m) if m.contains("larger")),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn a_provider_that_is_down_does_not_stop_the_client_but_each_sign_in_says_so() {
        // Nothing listens on port 1: the client is made, each attempt fails as unavailable.
        let client =
            OidcClient::new(OidcSettings::new("http://127.0.0.1:1", "topsail", "s")).unwrap();
        for _ in 0..2 {
            let err = client
                .begin("http://127.0.0.1:2/auth/oidc/callback")
                .await
                .unwrap_err();
            assert!(matches!(err, OidcError::Unavailable(_)), "{err}");
            assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
        }
        let err = client.begin("not a url").await.unwrap_err();
        assert!(matches!(err, OidcError::Misconfigured(_)), "{err}");
    }
}
