//! get and list: label and field selectors, `limit` and `continue` tokens (reference §5).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::Cluster;
use crate::resources::TYPES;
use crate::store::{ApiError, Key, with_type, without_type};

use super::{Answer, Target, key_of, matches, selectors};

pub(super) fn get(cluster: &Cluster, target: &Target) -> Answer {
    let state = cluster.state.lock().expect("the store lock");
    let key = key_of(target);
    match state.objects.get(&key) {
        Some(o) => Ok((200, with_type(target.type_index, o.clone()))),
        None => Err(ApiError::not_found(&TYPES[target.type_index], &key.2)),
    }
}

/// How long a continue token stays valid: etcd's default compaction interval.
const CONTINUE_LIFETIME_SECS: u64 = 300;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The list's version, when the token was issued (unix seconds) and the last key served.
fn continue_token(rv: u64, key: &Key) -> String {
    continue_token_at(rv, unix_now(), key)
}

fn continue_token_at(rv: u64, issued: u64, key: &Key) -> String {
    let raw = format!("{rv}.{issued}\u{1f}{}\u{1f}{}", key.1, key.2);
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Whether a token (version, issued) can no longer be served.
fn continue_expired(rv: u64, issued: u64, compacted_lists_rv: u64, now: u64) -> bool {
    rv < compacted_lists_rv || now.saturating_sub(issued) > CONTINUE_LIFETIME_SECS
}

fn parse_continue(token: &str) -> Option<((u64, u64), String, String)> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.split('\u{1f}');
    let (rv, issued) = parts.next()?.split_once('.')?;
    Some((
        (rv.parse().ok()?, issued.parse().ok()?),
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
    ))
}

pub(super) fn list(cluster: &Cluster, target: &Target, query: &HashMap<String, String>) -> Answer {
    let (labels, fields) = selectors(query)?;
    let state = cluster.state.lock().expect("the store lock");
    let t = &TYPES[target.type_index];
    // Every page of a list answers at the first page's version, as a real server's snapshot
    // does: a client starts its watch there and is sent every change made while it paged
    // (answering each page at the newest version lost, for good, what changed meanwhile among
    // the objects already paged past).
    let mut list_rv = state.rv;
    let after = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let ((rv, issued), ns, name) = parse_continue(token)
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            if continue_expired(rv, issued, state.compacted_lists_rv, unix_now()) {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            list_rv = rv;
            Some((ns, name))
        }
        None => None,
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let matching: Vec<(&Key, &Value)> = state
        .of_type(target.type_index, target.namespace.as_deref())
        .filter(|(k, _)| {
            after
                .as_ref()
                .is_none_or(|(ns, name)| (&k.1, &k.2) > (ns, name))
        })
        .filter(|(_, o)| matches(o, &labels, &fields))
        .collect();
    let total = matching.len();
    let page: Vec<(&Key, &Value)> = matching
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let Some(limit) = limit
        && total > limit
        && let Some((last, _)) = page.last()
    {
        metadata["continue"] = json!(continue_token(list_rv, last));
        metadata["remainingItemCount"] = json!(total - limit);
    }
    let items: Vec<Value> = page
        .into_iter()
        .map(|(_, o)| without_type(o.clone()))
        .collect();
    Ok((
        200,
        json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(), "metadata": metadata, "items": items}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let key: Key = (1, "prod".into(), "web-1".into());
        assert_eq!(
            parse_continue(&continue_token_at(42, 1_700_000_000, &key)),
            Some(((42, 1_700_000_000), "prod".into(), "web-1".into()))
        );
        assert_eq!(parse_continue("zz"), None);
    }

    #[test]
    fn continue_tokens_live_five_minutes_whatever_is_written_meanwhile() {
        // Issued at version 42; the watch history has long moved on (compaction of watches
        // does not matter), only the forced compaction and the lifetime do.
        assert!(!continue_expired(42, 1_000, 10, 1_000 + 300));
        assert!(continue_expired(42, 1_000, 10, 1_000 + 301));
        assert!(continue_expired(42, 1_000, 43, 1_000));
    }
}
