//! Every Kubernetes API call counted in `/metrics` (target `kubernetes`, by outcome, with its
//! latency — for a watch, the time until the stream opened) and made in a span of its own: a
//! tower layer on each account's kube-rs client, so no call site has to remember.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use crate::telemetry::{Outcome, Target, global};

/// A kube-rs client whose calls are measured.
pub fn measured_client(config: kube::Config) -> Result<kube::Client, kube::Error> {
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&MeasuredLayer)
        .build())
}

#[derive(Clone, Copy, Debug, Default)]
pub struct MeasuredLayer;

impl<S> Layer<S> for MeasuredLayer {
    type Service = Measured<S>;

    fn layer(&self, inner: S) -> Measured<S> {
        Measured { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Measured<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for Measured<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = Instant::now();
        // Inside the task's span when a stage calls: the execution is on every line.
        let span = tracing::debug_span!("outbound", target = "kubernetes", method = %request.method(), path = %request.uri().path());
        let answer = self.inner.call(request);
        let measured = async move {
            let answer = answer.await;
            let outcome = match &answer {
                Ok(r) => Outcome::of_status(r.status().as_u16()),
                Err(_) => Outcome::Unreachable,
            };
            global().outbound(Target::Kubernetes, outcome, started.elapsed());
            answer
        };
        Box::pin(measured.instrument(span))
    }
}
