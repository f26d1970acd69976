//! The Redis side of cache sharing: the watch leases, each account's objects as a hash, a
//! change counter per account and the change channel.
//!
//! Keys under the installation's prefix `P`:
//! - `P:watch-lease:<account>` — the replica watching the account (expires unless renewed);
//! - `P:cache:<account>` — hash `kind/namespace/name` → the object as JSON;
//! - `P:cache-seq:<account>` — how many changes were written (each message carries its number);
//! - channel `P:cache-changes` — `<number>\n<json>` per change, or a reset of a whole account.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::kubernetes::cache::CacheKey;

/// Takes or renews the lease for `ARGV[1]` when it is free, expired or already theirs; answers
/// the holder, and whether the lease had to be taken anew (`taken`: it was free — after it
/// expired, or after Redis lost its data) or was renewed (`renewed`), or is another's (`held`).
const HOLD: &str = r"
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {ARGV[1], 'taken'}
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {holder, 'renewed'}
end
return {holder, 'held'}
";

/// Gives the lease up, only if `ARGV[1]` holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Writes one object (or its removal, for an empty `ARGV[2]`) and publishes it with the next
/// change number — only while `ARGV[4]` holds the lease (a replica that lost it cannot
/// overwrite its successor's writes). Answers the number, or -1 for a replica without the lease.
const WRITE: &str = r"
if redis.call('GET', KEYS[3]) ~= ARGV[4] then
  return -1
end
local seq = redis.call('INCR', KEYS[2])
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('PUBLISH', ARGV[3], seq .. '\n' .. ARGV[5])
return seq
";

/// Puts the staged copy of an account (`KEYS[4]`, written beforehand) in place of its hash,
/// counts a change and announces the reset — all at once, and only while `ARGV[1]` holds the
/// lease (a replica that lost it cannot overwrite its successor's copy). Answers the change
/// number, or -1 without the lease.
const RESET: &str = r"
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  redis.call('DEL', KEYS[4])
  return -1
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('RENAME', KEYS[4], KEYS[1])
else
  redis.call('DEL', KEYS[1])
end
local seq = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], seq .. '\n' .. ARGV[3])
return seq
";

/// How long one call to Redis may take: an account's whole copy is megabytes (the client's
/// default of 500 ms would fail a large reset or snapshot that Redis still carries out).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// What taking or renewing a lease found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lease {
    /// This replica holds it; `anew` when it was free (first taken, expired, or Redis lost it).
    Held { anew: bool },
    /// Another replica holds it.
    Other(String),
}

/// A change as it travels on the channel.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub account: String,
    /// The account was written anew as a whole: read it whole.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    /// The object now; None when it is gone.
    #[serde(default)]
    pub object: Option<Value>,
}

/// What the channel delivers: the subscription is in place (read the accounts whole now), or a
/// change with its number.
#[derive(Debug)]
pub enum Heard {
    Subscribed,
    Change(u64, Published),
}

pub struct RedisCacheShare {
    client: redis::Client,
    connection: redis::aio::ConnectionManager,
    prefix: String,
}

/// A hash field: `kind/namespace/name` (none of them holds a `/`).
pub fn field_of(key: &CacheKey) -> String {
    format!("{}/{}/{}", key.kind, key.namespace, key.name)
}

fn key_of(account: &str, field: &str) -> Option<CacheKey> {
    let mut parts = field.splitn(3, '/');
    Some(CacheKey {
        account: account.to_owned(),
        kind: parts.next()?.to_owned(),
        namespace: parts.next()?.to_owned(),
        name: parts.next()?.to_owned(),
    })
}

impl RedisCacheShare {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let config =
            redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT));
        let connection = redis::aio::ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            connection,
            prefix: prefix.to_owned(),
        })
    }

    fn lease_key(&self, account: &str) -> String {
        format!("{}:watch-lease:{account}", self.prefix)
    }

    fn hash_key(&self, account: &str) -> String {
        format!("{}:cache:{account}", self.prefix)
    }

    fn staging_key(&self, account: &str, replica: &str) -> String {
        format!("{}:cache-staging:{account}:{replica}", self.prefix)
    }

    fn seq_key(&self, account: &str) -> String {
        format!("{}:cache-seq:{account}", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}:cache-changes", self.prefix)
    }

    /// Takes or renews `account`'s lease for `replica`.
    pub async fn hold(&self, account: &str, replica: &str, ttl: Duration) -> Result<Lease, String> {
        let mut c = self.connection.clone();
        let (holder, how): (String, String) = redis::Script::new(HOLD)
            .key(self.lease_key(account))
            .arg(replica)
            .arg(ttl.as_millis() as u64)
            .invoke_async(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match how.as_str() {
            "taken" => Lease::Held { anew: true },
            "renewed" => Lease::Held { anew: false },
            _ => Lease::Other(holder),
        })
    }

    /// The number of the last change written for `account` (0: none).
    pub async fn last_change(&self, account: &str) -> Result<u64, String> {
        let mut c = self.connection.clone();
        redis::cmd("GET")
            .arg(self.seq_key(account))
            .query_async::<Option<u64>>(&mut c)
            .await
            .map(Option::unwrap_or_default)
            .map_err(|e| e.to_string())
    }

    pub async fn release(&self, account: &str, replica: &str) -> Result<(), String> {
        let mut c = self.connection.clone();
        redis::Script::new(RELEASE)
            .key(self.lease_key(account))
            .arg(replica)
            .invoke_async::<i64>(&mut c)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Writes one object's state (None: gone) and publishes it. Ok(false) when `replica` no
    /// longer holds the account's lease (nothing was written).
    pub async fn write(
        &self,
        replica: &str,
        key: &CacheKey,
        object: Option<&Value>,
    ) -> Result<bool, String> {
        let message = Published {
            account: key.account.clone(),
            reset: false,
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            object: object.cloned(),
        };
        let json = object.map(Value::to_string).unwrap_or_default();
        let mut c = self.connection.clone();
        let seq: i64 = redis::Script::new(WRITE)
            .key(self.hash_key(&key.account))
            .key(self.seq_key(&key.account))
            .key(self.lease_key(&key.account))
            .arg(field_of(key))
            .arg(json)
            .arg(self.channel())
            .arg(replica)
            .arg(serde_json::to_string(&message).map_err(|e| e.to_string())?)
            .invoke_async(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        Ok(seq >= 0)
    }

    /// Writes an account anew as a whole (what `replica` holds of it now) and tells the others
    /// to read it whole: staged under a key of its own, then put in place in one step that
    /// checks the lease. Ok(false) when `replica` does not hold the lease.
    pub async fn reset(
        &self,
        replica: &str,
        account: &str,
        objects: &[(CacheKey, Arc<Value>)],
    ) -> Result<bool, String> {
        let mut c = self.connection.clone();
        let staging = self.staging_key(account, replica);
        redis::cmd("DEL")
            .arg(&staging)
            .query_async::<i64>(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        for chunk in objects.chunks(500) {
            let fields: Vec<(String, String)> = chunk
                .iter()
                .map(|(k, v)| (field_of(k), v.to_string()))
                .collect();
            redis::cmd("HSET")
                .arg(&staging)
                .arg(fields)
                .query_async::<i64>(&mut c)
                .await
                .map_err(|e| e.to_string())?;
        }
        // A replica that dies before putting it in place leaves nothing behind for long.
        redis::cmd("EXPIRE")
            .arg(&staging)
            .arg(300)
            .query_async::<i64>(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        let message = Published {
            account: account.to_owned(),
            reset: true,
            kind: String::new(),
            namespace: String::new(),
            name: String::new(),
            object: None,
        };
        let seq: i64 = redis::Script::new(RESET)
            .key(self.hash_key(account))
            .key(self.seq_key(account))
            .key(self.lease_key(account))
            .key(staging)
            .arg(replica)
            .arg(self.channel())
            .arg(serde_json::to_string(&message).map_err(|e| e.to_string())?)
            .invoke_async(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        Ok(seq >= 0)
    }

    /// An account as a whole, with the number of the last change it includes.
    pub async fn snapshot(&self, account: &str) -> Result<(u64, Vec<(CacheKey, Value)>), String> {
        let mut c = self.connection.clone();
        let (seq, fields): (Option<u64>, HashMap<String, String>) = redis::pipe()
            .atomic()
            .get(self.seq_key(account))
            .hgetall(self.hash_key(account))
            .query_async(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        let objects = fields
            .into_iter()
            .filter_map(|(field, json)| {
                Some((key_of(account, &field)?, serde_json::from_str(&json).ok()?))
            })
            .collect();
        Ok((seq.unwrap_or(0), objects))
    }

    /// Delivers `Subscribed` once subscribed, then every change published, until the
    /// connection fails (or `deliver` is closed).
    pub async fn listen(&self, deliver: mpsc::Sender<Heard>) -> Result<(), String> {
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| e.to_string())?;
        pubsub
            .subscribe(self.channel())
            .await
            .map_err(|e| e.to_string())?;
        if deliver.send(Heard::Subscribed).await.is_err() {
            return Ok(());
        }
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let Ok(payload) = message.get_payload::<String>() else {
                continue;
            };
            let Some(heard) = parse(&payload) else {
                tracing::debug!("a message on the cache channel that is not a change");
                continue;
            };
            if deliver.send(heard).await.is_err() {
                return Ok(());
            }
        }
        Err("the subscription ended".into())
    }
}

fn parse(payload: &str) -> Option<Heard> {
    let (seq, json) = payload.split_once('\n')?;
    Some(Heard::Change(
        seq.parse().ok()?,
        serde_json::from_str(json).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_name_kind_namespace_and_name() {
        let key = CacheKey {
            account: "prod".into(),
            kind: "Deployment".into(),
            namespace: String::new(),
            name: "web".into(),
        };
        assert_eq!(field_of(&key), "Deployment//web");
        assert_eq!(key_of("prod", "Deployment//web"), Some(key));
        assert_eq!(key_of("prod", "Deployment"), None);
    }

    #[test]
    fn messages_carry_their_number() {
        let Some(Heard::Change(7, change)) = parse(
            "7\n{\"account\":\"a\",\"kind\":\"Pod\",\"namespace\":\"n\",\"name\":\"p\",\"object\":null}",
        ) else {
            panic!("not parsed");
        };
        assert_eq!((change.account.as_str(), change.object), ("a", None));
        assert!(parse("seven\n{}").is_none());
        assert!(parse("no number").is_none());
    }
}
