//! Retrying cluster calls: 5xx, 429, timeouts and transport errors are tried again with
//! doubling backoff; any other failure becomes a [`KubernetesError`] naming the resource.

use std::future::Future;
use std::time::Duration;

use crate::kubernetes::KubernetesError;
use crate::kubernetes::accounts::short_error;

/// How many times a transient failure is retried, and the first pause (doubling each time).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// A single API call that takes longer than this counts as a transient failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429 || s.code == 0,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

fn classify(resource: &str, e: kube::Error) -> KubernetesError {
    match e {
        kube::Error::Api(s) if s.code == 404 => KubernetesError::NotFound {
            resource: resource.to_owned(),
            message: s.message.clone(),
        },
        kube::Error::Api(s) => KubernetesError::Rejected {
            resource: resource.to_owned(),
            code: s.code,
            reason: s.reason.clone(),
            message: s.message.clone(),
        },
        other => KubernetesError::Unreachable {
            resource: resource.to_owned(),
            attempts: 1,
            message: short_error(&other),
        },
    }
}

/// Runs `call`, retrying 5xx, 429, timeouts and transport errors with doubling backoff.
pub async fn retrying<T, F, Fut>(resource: &str, mut call: F) -> Result<T, KubernetesError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(CALL_TIMEOUT, call()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) if !is_transient(&e) => return Err(classify(resource, e)),
            Ok(Err(e)) => last = short_error(&e),
            Err(_) => last = format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
        }
        if attempt < ATTEMPTS {
            tracing::debug!(resource, attempt, error = %last, "retrying a Kubernetes call");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Err(KubernetesError::Unreachable {
        resource: resource.to_owned(),
        attempts: ATTEMPTS,
        message: last,
    })
}
