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
    let all = claims(json!({"sub": "u1", "preferred_username": "alice", "email": "a@example.com"}));
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
    let empty = claims(json!({"sub": "u1", "preferred_username": "  ", "email": "a@example.com"}));
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

    let verified = claims(json!({"sub": "u1", "email": "a@example.com", "email_verified": true}));
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

    let empty_groups = claims(json!({"sub": "u1", "preferred_username": "alice", "groups": []}));
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
    let client = OidcClient::new(OidcSettings::new("http://127.0.0.1:1", "topsail", "s")).unwrap();
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
