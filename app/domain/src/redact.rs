//! What is stored but never shown: values of sensitive headers (a webhook stage's
//! `customHeaders`, or any `headers` object), and secrets in URLs (credentials, and query values
//! whose names look secret). Applied to every execution the API answers with or streams, to
//! what expressions and the debugger see, and to pipeline documents as the API shows them —
//! where a save that sends a redacted value back keeps the stored secret ([`restore`]).

use serde_json::Value;

use crate::execution::Execution;

/// What a redacted value reads.
pub const REDACTED: &str = "[redacted]";

/// Whether a header (or query parameter) name carries a secret.
pub fn is_sensitive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "cookie" | "x-api-key" | "proxy-authorization"
    ) || [
        "token",
        "secret",
        "password",
        "apikey",
        "api_key",
        "signature",
    ]
    .iter()
    .any(|part| n.contains(part))
}

/// `url` with its credentials and secret-looking query values replaced.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{REDACTED}@{host}"),
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((p, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, format!("#{f}")),
                None => (query, String::new()),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if is_sensitive(k) => format!("{k}={REDACTED}"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{p}?{}{fragment}", pairs.join("&"))
        }
        None => path.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

/// A notification address as shown: its scheme and host only (chat webhooks carry their secret
/// in the path).
pub fn address(address: &str) -> String {
    match address.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if rest.len() > authority.len() {
                format!("{scheme}://{host}/…")
            } else {
                format!("{scheme}://{host}")
            }
        }
        None => address.to_owned(),
    }
}

/// Shortens the `address` of each notification in a `notifications` list.
fn notifications(list: &mut Value) {
    for n in list.as_array_mut().into_iter().flatten() {
        if let Some(Value::String(a)) = n.get_mut("address") {
            *a = address(a);
        }
    }
}

/// Redacts, in place, header values and URLs anywhere in `value`.
pub fn value(value: &mut Value) {
    match value {
        Value::Object(m) => map(m),
        Value::Array(items) => items.iter_mut().for_each(self::value),
        Value::String(s) if s.contains("://") => *s = url(s),
        _ => {}
    }
}

/// Redacts an object's entries: a `customHeaders`/`headers` object's sensitive values, and
/// everything else as [`value`] does.
pub fn map(m: &mut serde_json::Map<String, Value>) {
    for (key, v) in m.iter_mut() {
        let headers =
            key.eq_ignore_ascii_case("customHeaders") || key.eq_ignore_ascii_case("headers");
        match v {
            Value::Object(h) if headers => {
                for (name, hv) in h.iter_mut() {
                    if is_sensitive(name) {
                        *hv = Value::String(REDACTED.into());
                    }
                }
            }
            other => value(other),
        }
    }
}

/// Redacts an execution as it is shown: its trigger, notifications and every stage's context
/// and outputs.
pub fn execution(e: &mut Execution) {
    value(&mut e.trigger);
    for n in &mut e.notifications {
        if let Some(Value::String(a)) = n.get_mut("address") {
            *a = address(a);
        }
        value(n);
    }
    for stage in &mut e.stages {
        if let Some(list) = stage.context.get_mut("notifications") {
            notifications(list);
        }
        map(&mut stage.context);
        map(&mut stage.outputs);
    }
    for d in &mut e.notification_deliveries {
        d.address = address(&d.address);
    }
}

/// Redacts a pipeline document as it is shown: notification addresses to their host, header
/// values and URL secrets as [`value`] does.
pub fn pipeline(doc: &mut serde_json::Map<String, Value>) {
    if let Some(list) = doc.get_mut("notifications") {
        notifications(list);
    }
    for stage in doc
        .get_mut("stages")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(list) = stage.get_mut("notifications") {
            notifications(list);
        }
    }
    map(doc);
}

/// Puts stored secrets back into a pipeline document that was shown redacted: wherever
/// `incoming` still holds exactly what `stored` showed at the same place, the stored value is
/// kept. Stages (and other entries with a `refId`) are matched by `refId`, list entries
/// otherwise by position; a value the person changed is taken as changed.
pub fn restore(
    incoming: &mut serde_json::Map<String, Value>,
    stored: &serde_json::Map<String, Value>,
) {
    let mut shown = stored.clone();
    pipeline(&mut shown);
    for (key, v) in incoming.iter_mut() {
        if let (Some(sh), Some(st)) = (shown.get(key), stored.get(key)) {
            put_back(v, sh, st);
        }
    }
}

fn put_back(incoming: &mut Value, shown: &Value, stored: &Value) {
    match (incoming, shown, stored) {
        (Value::String(s), Value::String(sh), Value::String(st)) if s == sh && sh != st => {
            *s = st.clone();
        }
        (Value::Object(i), Value::Object(sh), Value::Object(st)) => {
            for (key, v) in i.iter_mut() {
                if let (Some(a), Some(b)) = (sh.get(key), st.get(key)) {
                    put_back(v, a, b);
                }
            }
        }
        (Value::Array(i), Value::Array(sh), Value::Array(st)) => {
            for (n, v) in i.iter_mut().enumerate() {
                let at = match v.get("refId").cloned() {
                    Some(r) => sh.iter().position(|x| x.get("refId") == Some(&r)),
                    None => Some(n),
                };
                if let Some(j) = at.filter(|j| *j < sh.len() && *j < st.len()) {
                    put_back(v, &sh[j], &st[j]);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_names_are_recognised() {
        for n in [
            "Authorization",
            "COOKIE",
            "X-API-Key",
            "X-Gitlab-Token",
            "client_secret",
            "db_password",
        ] {
            assert!(is_sensitive(n), "{n}");
        }
        for n in ["Content-Type", "X-Request-Id", "branch"] {
            assert!(!is_sensitive(n), "{n}");
        }
    }

    #[test]
    fn urls_lose_credentials_and_secret_query_values() {
        assert_eq!(
            url("https://user:pw@hooks.example.com/a?x=1&token=abc#f"),
            "https://[redacted]@hooks.example.com/a?x=1&token=[redacted]#f"
        );
        assert_eq!(url("http://example.com"), "http://example.com");
        assert_eq!(url("not a url"), "not a url");
    }

    #[test]
    fn notification_addresses_show_their_host_only() {
        assert_eq!(
            address("https://hooks.slack.com/services/T0/B0/XYZ"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(address("https://u:p@example.com"), "https://example.com");
    }

    #[test]
    fn headers_and_urls_are_redacted_anywhere_in_a_document() {
        let mut v = json!({"url": "https://ci:s3cret@ci.example/deploy?api_key=k",
            "customHeaders": {"Authorization": "Bearer abc", "X-Env": "prod"},
            "nested": [{"headers": {"Cookie": "a=b"}}]});
        value(&mut v);
        assert_eq!(
            v["url"],
            "https://[redacted]@ci.example/deploy?api_key=[redacted]"
        );
        assert_eq!(v["customHeaders"]["Authorization"], REDACTED);
        assert_eq!(v["customHeaders"]["X-Env"], "prod");
        assert_eq!(v["nested"][0]["headers"]["Cookie"], REDACTED);
    }

    #[test]
    fn a_document_saved_back_as_shown_keeps_its_secrets() {
        let stored = json!({"notifications": [{"type": "slack", "address": "https://hooks.slack.com/services/T/B/XYZ"}],
            "stages": [
                {"refId": "1", "url": "https://ci:pw@ci.example/go", "customHeaders": {"Authorization": "Bearer a", "X-Env": "prod"}},
                {"refId": "2", "customHeaders": {"Authorization": "Bearer b"}}]});
        let stored = stored.as_object().unwrap().clone();
        let mut shown = stored.clone();
        pipeline(&mut shown);
        assert_eq!(
            shown["notifications"][0]["address"],
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            shown["stages"][0]["customHeaders"]["Authorization"],
            REDACTED
        );
        // Saved back with the stages swapped, one header changed and another field edited.
        let mut incoming = shown.clone();
        incoming["stages"].as_array_mut().unwrap().reverse();
        incoming["stages"][0]["customHeaders"]["Authorization"] = json!("Bearer new");
        incoming["stages"][1]["customHeaders"]["X-Env"] = json!("test");
        restore(&mut incoming, &stored);
        assert_eq!(incoming["notifications"], stored["notifications"]);
        assert_eq!(incoming["stages"][1]["url"], "https://ci:pw@ci.example/go");
        assert_eq!(
            incoming["stages"][1]["customHeaders"]["Authorization"],
            "Bearer a"
        );
        assert_eq!(incoming["stages"][1]["customHeaders"]["X-Env"], "test");
        assert_eq!(
            incoming["stages"][0]["customHeaders"]["Authorization"],
            "Bearer new"
        );
    }
}
