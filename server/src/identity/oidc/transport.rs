//! The provider's HTTP: one reqwest client with timeouts, no redirects and a size cap, and the
//! mapping of the crate's errors to [`OidcError`].

use super::*;

/// An error and its causes, one after the other (reqwest puts "connection refused" three deep).
pub(super) fn chain(err: &dyn std::error::Error) -> String {
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

pub(super) fn discovery_error(issuer: &str, err: DiscoveryError<HttpError>) -> OidcError {
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

pub(super) fn token_error(
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

pub(super) fn id_token_error(err: ClaimsVerificationError) -> OidcError {
    OidcError::Refused(format!("the ID token is not valid: {}", chain(&err)))
}

pub(super) fn userinfo_error(err: UserInfoError<HttpError>) -> OidcError {
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
pub(super) struct Http {
    pub(super) client: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum HttpError {
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
