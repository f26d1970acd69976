use super::*;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

fn policy(allow: &[&str], deny: &[&str]) -> OutboundPolicy {
    OutboundPolicy::from_config(&OutboundConfig {
        allow: allow.iter().map(|s| s.to_string()).collect(),
        deny: deny.iter().map(|s| s.to_string()).collect(),
        max_redirects: 3,
        max_reply_bytes: 1024,
        timeout_secs: 5,
    })
    .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn loopback_link_local_unspecified_and_multicast_are_refused_by_default() {
    let p = policy(&[], &[]);
    for refused in [
        "127.0.0.1",
        "127.8.9.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ] {
        assert!(
            matches!(
                p.check_address("h", ip(refused)),
                Err(OutboundError::AddressRefused(_))
            ),
            "{refused} should be refused"
        );
    }
    for allowed in [
        "10.0.0.5",
        "192.168.1.1",
        "93.184.216.34",
        "2001:db8::1",
        "fd00::1",
    ] {
        assert_eq!(p.check_address("h", ip(allowed)), Ok(()), "{allowed}");
    }
}

#[test]
fn allow_lists_open_addresses_networks_and_hosts_and_deny_wins() {
    let p = policy(
        &[
            "127.0.0.1",
            "169.254.0.0/16",
            "*.internal.example",
            "metadata.local",
        ],
        &["169.254.169.254", "10.0.0.0/8", "evil.example"],
    );
    assert_eq!(p.check_address("x", ip("127.0.0.1")), Ok(()));
    assert!(p.check_address("x", ip("127.0.0.2")).is_err());
    assert_eq!(p.check_address("x", ip("169.254.1.1")), Ok(()));
    assert_eq!(
        p.check_address("x", ip("169.254.169.254")),
        Err(OutboundError::AddressRefused(ip("169.254.169.254")))
    );
    assert!(p.check_address("x", ip("10.1.2.3")).is_err());
    assert_eq!(
        p.check_address("api.internal.example", ip("127.0.0.9")),
        Ok(())
    );
    assert!(
        p.check_address("internal.example", ip("127.0.0.9"))
            .is_err()
    );
    assert_eq!(p.check_address("Metadata.Local.", ip("127.0.0.9")), Ok(()));
    assert_eq!(
        p.check_host("EVIL.example"),
        Err(OutboundError::HostRefused("evil.example".into()))
    );
    let message = OutboundError::AddressRefused(ip("127.0.0.1")).to_string();
    assert_eq!(
        message,
        "address 127.0.0.1 is not allowed by the outbound policy"
    );
}

#[test]
fn entries_that_are_no_host_address_or_network_are_named() {
    let err = OutboundPolicy::from_config(&OutboundConfig {
        deny: vec!["ok.example".into(), "not a host/99".into()],
        ..OutboundConfig::default()
    })
    .unwrap_err();
    assert!(err.starts_with("outbound.deny[1]:"), "{err}");
}

#[test]
fn only_http_urls_go_out() {
    let client = OutboundClient::with_defaults();
    for url in ["file:///etc/passwd", "gopher://x", "not a url", "http://"] {
        assert!(
            matches!(
                client.request(Method::GET, url),
                Err(OutboundError::NotHttp(_))
            ),
            "{url}"
        );
    }
    assert!(matches!(
        client.request(Method::GET, "http://[::1]:80/"),
        Err(OutboundError::AddressRefused(_))
    ));
}

/// A local receiver: `/` answers, `/to?url=` redirects there, `/loop` redirects to itself,
/// `/big` answers 4 KB.
async fn receiver() -> SocketAddr {
    async fn to(axum::extract::RawQuery(q): axum::extract::RawQuery) -> impl IntoResponse {
        let target = q.unwrap_or_default().trim_start_matches("url=").to_owned();
        (StatusCode::FOUND, [(header::LOCATION, target)])
    }
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/to", get(to))
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
        )
        .route("/big", get(|| async { "x".repeat(4096) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

async fn get_text(client: &OutboundClient, url: &str) -> Result<String, OutboundError> {
    let response = client.send(client.request(Method::GET, url)?).await?;
    client.read_text(response).await
}

#[tokio::test]
async fn a_local_receiver_is_refused_by_default_and_reached_when_allowed() {
    let at = receiver().await;
    let refused = OutboundClient::with_defaults();
    assert_eq!(
        get_text(&refused, &format!("http://{at}/")).await,
        Err(OutboundError::AddressRefused(ip("127.0.0.1")))
    );
    // A name is checked once resolved: localhost is loopback.
    let by_name = get_text(&refused, &format!("http://localhost:{}/", at.port())).await;
    assert!(
        matches!(by_name, Err(OutboundError::AddressRefused(a)) if a.is_loopback()),
        "{by_name:?}"
    );
    let allowed = OutboundClient::new(policy(&["127.0.0.1"], &[]));
    assert_eq!(
        get_text(&allowed, &format!("http://{at}/")).await,
        Ok("hello".into())
    );
    // localhost resolves to 127.0.0.1 (allowed) and perhaps ::1 (refused): the allowed one is used.
    assert_eq!(
        get_text(&allowed, &format!("http://localhost:{}/", at.port())).await,
        Ok("hello".into())
    );
}

#[tokio::test]
async fn every_redirect_is_checked_and_redirects_are_bounded() {
    let at = receiver().await;
    let client = OutboundClient::new(policy(&["127.0.0.1"], &["denied.localhost"]));
    assert_eq!(
        get_text(
            &client,
            &format!("http://{at}/to?url=http://169.254.169.254/latest/meta-data/")
        )
        .await,
        Err(OutboundError::AddressRefused(ip("169.254.169.254")))
    );
    assert_eq!(
        get_text(
            &client,
            &format!("http://{at}/to?url=http://denied.localhost:{}/", at.port())
        )
        .await,
        Err(OutboundError::HostRefused("denied.localhost".into()))
    );
    assert_eq!(
        get_text(&client, &format!("http://{at}/to?url=http://{at}/")).await,
        Ok("hello".into())
    );
    assert_eq!(
        get_text(&client, &format!("http://{at}/loop")).await,
        Err(OutboundError::TooManyRedirects(3))
    );
}

#[tokio::test]
async fn replies_are_read_up_to_the_cap() {
    let at = receiver().await;
    let client = OutboundClient::new(policy(&["127.0.0.1"], &[]));
    assert_eq!(
        get_text(&client, &format!("http://{at}/big")).await,
        Err(OutboundError::TooLarge(1024))
    );
}
