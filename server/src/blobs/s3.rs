//! Blobs in an S3-compatible bucket through `aws-sdk-s3`: AWS S3, Minio, or any endpoint that
//! answers path-style requests. Credentials come from the settings or the standard AWS chain
//! (environment, profile, web identity, container and instance metadata). Calls are retried by
//! the SDK (3 attempts, backoff) within a 30 s budget; what still fails is `Unavailable`,
//! naming the bucket and what S3 said.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use super::{BlobError, BlobStore, check_key, check_prefix};
use crate::config::Secret;

/// Where the bucket is and how to reach it (`[blobs]` in the configuration).
#[derive(Clone, Debug, Default)]
pub struct S3Settings {
    pub bucket: String,
    /// What every key starts with in the bucket, e.g. `topsail/` (empty: none).
    pub prefix: String,
    /// An S3-compatible endpoint (e.g. Minio's `http://minio:9000`); default AWS S3.
    pub endpoint: Option<String>,
    /// Default: the AWS chain's region, else `us-east-1`.
    pub region: Option<String>,
    /// Both, or neither (then the AWS credential chain).
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
}

pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
    region: String,
    prefix: String,
    endpoint: Option<String>,
}

impl S3Blobs {
    pub async fn new(settings: &S3Settings) -> Self {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        // Rustls on ring, as every other HTTPS client in Topsail.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http.clone())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3));
        // Without a region here, the AWS chain's (`AWS_REGION`, the profile, instance metadata).
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id.expose(),
                secret.expose(),
                None,
                None,
                "topsail-configuration",
            ));
        }
        let shared = loader.load().await;
        let region = shared
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .http_client(http)
            .region(aws_config::Region::new(region.clone()));
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        let prefix = match settings.prefix.trim_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        Self {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
            region,
            prefix,
            endpoint: settings.endpoint.clone(),
        }
    }

    /// Creates the bucket when it does not exist (as Spinnaker's Front50 does at start).
    pub async fn ensure_bucket(&self) -> Result<(), BlobError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                // Outside us-east-1, S3 wants the bucket's region named.
                let mut create = self.client.create_bucket().bucket(&self.bucket);
                if self.region != "us-east-1" {
                    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
                    create = create.create_bucket_configuration(
                        CreateBucketConfiguration::builder()
                            .location_constraint(BucketLocationConstraint::from(
                                self.region.as_str(),
                            ))
                            .build(),
                    );
                }
                create
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| self.unavailable("creating the bucket", &e))
            }
            Err(e) => Err(self.unavailable("checking the bucket", &e)),
        }
    }

    fn unavailable<E, R>(&self, what: &str, e: &SdkError<E, R>) -> BlobError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        self.failed(what, sdk_error_text(e))
    }

    /// Any object of any bucket this client may read (an `s3/object` artifact), at most `cap`
    /// bytes; None when it does not exist. Errors name `s3://bucket/key`, never a credential.
    pub async fn read_object(
        &self,
        bucket: &str,
        key: &str,
        cap: usize,
    ) -> Result<Option<Vec<u8>>, String> {
        let started = std::time::Instant::now();
        let answer = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await;
        measured(started, &answer);
        let object = match answer {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(format!("s3://{bucket}/{key}: {}", sdk_error_text(&e))),
        };
        if object
            .content_length()
            .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > cap))
        {
            return Err(format!("s3://{bucket}/{key} is larger than {cap} bytes"));
        }
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| format!("s3://{bucket}/{key}: {e}"))?
            .into_bytes();
        if body.len() > cap {
            return Err(format!("s3://{bucket}/{key} is larger than {cap} bytes"));
        }
        Ok(Some(body.to_vec()))
    }

    fn failed(&self, what: &str, message: String) -> BlobError {
        BlobError::Unavailable {
            store: self.describe(),
            message: format!("{what}: {message}"),
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    fn describe(&self) -> String {
        let at = self
            .endpoint
            .as_deref()
            .map(|e| format!(" at {e}"))
            .unwrap_or_default();
        format!("s3://{}/{}{at}", self.bucket, self.prefix)
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        check_key(key)?;
        let started = std::time::Instant::now();
        let answer = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{}{key}", self.prefix))
            .body(ByteStream::from(bytes))
            .send()
            .await;
        measured(started, &answer);
        answer
            .map(drop)
            .map_err(|e| self.unavailable(&format!("writing {key}"), &e))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        check_key(key)?;
        let started = std::time::Instant::now();
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(format!("{}{key}", self.prefix))
            .send()
            .await;
        measured(started, &answer);
        let object = match answer {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(self.unavailable(&format!("reading {key}"), &e)),
        };
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| self.failed(&format!("reading {key}"), e.to_string()))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        let started = std::time::Instant::now();
        let answer = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(format!("{}{key}", self.prefix))
            .send()
            .await;
        measured(started, &answer);
        answer
            .map(drop)
            .map_err(|e| self.unavailable(&format!("deleting {key}"), &e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        check_prefix(prefix)?;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}{prefix}", self.prefix))
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        loop {
            let started = std::time::Instant::now();
            let Some(page) = pages.next().await else {
                break;
            };
            measured(started, &page);
            let page = page.map_err(|e| self.unavailable("listing", &e))?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix))
                    && check_key(key).is_ok()
                {
                    keys.push(key.to_owned());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// Counts a call to S3 in `/metrics`: answered (a missing key is an answer), a server error, or
/// no answer.
fn measured<T, E>(started: std::time::Instant, answer: &Result<T, SdkError<E, HttpResponse>>) {
    use crate::telemetry::{Outcome, Target, global};
    let outcome = match answer {
        Ok(_) => Outcome::Answered,
        Err(e) => e.raw_response().map_or(Outcome::Unreachable, |r| {
            Outcome::of_status(r.status().as_u16())
        }),
    };
    global().outbound(Target::S3, outcome, started.elapsed());
}

/// What S3 said, in a line: its error code and message, or why it could not be asked.
fn sdk_error_text<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("S3 answered {code}: {message}"),
                (Some(code), None) => format!("S3 answered {code}"),
                _ => format!("S3 answered: {err}"),
            }
        }
        SdkError::TimeoutError(_) => "S3 did not answer in time".into(),
        SdkError::DispatchFailure(failure) => {
            let cause = failure
                .as_connector_error()
                .map(|c| DisplayErrorContext(c).to_string())
                .unwrap_or_else(|| "the request could not be sent".into());
            format!("cannot reach S3 ({cause})")
        }
        other => DisplayErrorContext(other).to_string(),
    }
}
