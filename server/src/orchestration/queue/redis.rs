//! The queue in Redis, for several replicas. Every operation is one Lua script, so each is
//! atomic on the server whatever the number of pollers.
//!
//! Keys under a prefix (default `topsail:queue`):
//! `<p>:due` sorted set id → deliver-at ms · `<p>:leased` sorted set id → lease-until ms ·
//! `<p>:payload`, `<p>:attempts`, `<p>:lease` hashes by id · `<p>:dead` hash id → JSON.

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use super::{
    DeadLetter, NewItem, QueueBackend, QueueDepth, QueueError, RawDelivery, exhausted_reason,
};

/// Lua that stores new items: ARGV from `first` on in groups of five (id, payload, deliver_at,
/// lease token or '', lease until). KEYS: due, leased, payload, attempts, lease. A leased item
/// goes straight to the leased set, delivered once.
const STORE_ITEMS: &str = r"
local function store_items(first)
  for i = first, #ARGV, 5 do
    local id = ARGV[i]
    redis.call('HSET', KEYS[3], id, ARGV[i + 1])
    if ARGV[i + 3] == '' then
      redis.call('ZADD', KEYS[1], ARGV[i + 2], id)
    else
      redis.call('HSET', KEYS[4], id, 1)
      redis.call('HSET', KEYS[5], id, ARGV[i + 3])
      redis.call('ZADD', KEYS[2], ARGV[i + 4], id)
    end
  end
end
";

/// KEYS: due, leased, payload, attempts, lease. ARGV: items.
const PUSH: &str = r"
store_items(1)
return 1
";

/// KEYS: due, leased, payload, attempts, lease, dead.
/// ARGV: now, lease_ms, max, max_attempts, lease_prefix, and the words of the dead-letter
/// reason before and after the attempt count.
const POLL: &str = r"
local now = tonumber(ARGV[1])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[5], id)
  redis.call('ZADD', KEYS[1], now, id)
end
local out = {}
local taken = 0
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]) * 2)
for i, id in ipairs(due) do
  if taken >= tonumber(ARGV[3]) then break end
  redis.call('ZREM', KEYS[1], id)
  local attempts = tonumber(redis.call('HGET', KEYS[4], id) or '0')
  local payload = redis.call('HGET', KEYS[3], id)
  if attempts >= tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[6], id, cjson.encode({id = id, payload = payload, attempts = attempts,
      reason = ARGV[6] .. attempts .. ARGV[7], failedAtMs = now}))
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
  else
    attempts = attempts + 1
    local lease = ARGV[5] .. ':' .. i
    redis.call('HSET', KEYS[4], id, attempts)
    redis.call('HSET', KEYS[5], id, lease)
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
    table.insert(out, id)
    table.insert(out, payload)
    table.insert(out, tostring(attempts))
    table.insert(out, lease)
    taken = taken + 1
  end
end
return out
";

/// KEYS: due, leased, payload, attempts, lease. ARGV: id, lease, items.
const COMPLETE: &str = r"
if redis.call('HGET', KEYS[5], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
store_items(3)
return 1
";

/// KEYS: leased, payload, attempts, lease, dead. ARGV: id, lease, reason, now.
const DEAD_LETTER: &str = r"
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] then return 0 end
local payload = redis.call('HGET', KEYS[2], ARGV[1])
local attempts = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
redis.call('HSET', KEYS[5], ARGV[1], cjson.encode({id = ARGV[1], payload = payload, attempts = attempts,
  reason = ARGV[3], failedAtMs = tonumber(ARGV[4])}))
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
";

/// KEYS: due, leased, dead. ARGV: now.
const DEPTH: &str = r"
local now = tonumber(ARGV[1])
local due_now = redis.call('ZCOUNT', KEYS[1], '-inf', now)
local scheduled = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
local expired = redis.call('ZCOUNT', KEYS[2], '-inf', now)
local in_flight = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
local oldest = now
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
if #due > 0 then oldest = math.min(oldest, tonumber(due[2])) end
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
if #lapsed > 0 then oldest = math.min(oldest, tonumber(lapsed[2])) end
return {due_now + expired, scheduled, in_flight, redis.call('HLEN', KEYS[3]), now - oldest}
";

#[derive(Clone)]
pub struct RedisQueue {
    connection: ConnectionManager,
    keys: Keys,
    scripts: std::sync::Arc<Scripts>,
}

/// The scripts, hashed once (Redis runs them by hash after the first call).
struct Scripts {
    push: Script,
    poll: Script,
    complete: Script,
    dead_letter: Script,
    depth: Script,
}

#[derive(Clone)]
struct Keys {
    due: String,
    leased: String,
    payload: String,
    attempts: String,
    lease: String,
    dead: String,
}

impl RedisQueue {
    /// Connects to `url` (`redis://host:port/db`); all keys start with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, QueueError> {
        let client = redis::Client::open(url)?;
        let connection = ConnectionManager::new(client).await?;
        let key = |name: &str| format!("{prefix}:{name}");
        let keys = Keys {
            due: key("due"),
            leased: key("leased"),
            payload: key("payload"),
            attempts: key("attempts"),
            lease: key("lease"),
            dead: key("dead"),
        };
        let scripts = Scripts {
            push: with_store_items(PUSH),
            poll: Script::new(POLL),
            complete: with_store_items(COMPLETE),
            dead_letter: Script::new(DEAD_LETTER),
            depth: Script::new(DEPTH),
        };
        Ok(Self {
            connection,
            keys,
            scripts: std::sync::Arc::new(scripts),
        })
    }

    /// Removes every key of this queue (for tests that share a Redis server).
    pub async fn delete_all(&self) -> Result<(), QueueError> {
        let k = &self.keys;
        let mut c = self.connection.clone();
        redis::cmd("DEL")
            .arg(&[
                &k.due,
                &k.leased,
                &k.payload,
                &k.attempts,
                &k.lease,
                &k.dead,
            ])
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }
}

fn push_args(invocation: &mut redis::ScriptInvocation<'_>, items: &[NewItem]) {
    for item in items {
        let (token, until) = item
            .lease
            .as_ref()
            .map(|l| (l.token.as_str(), l.until_ms))
            .unwrap_or(("", 0));
        invocation
            .arg(&item.id)
            .arg(&item.payload)
            .arg(item.deliver_at_ms)
            .arg(token)
            .arg(until);
    }
}

/// A script that stores items, with the shared Lua in front.
fn with_store_items(body: &str) -> Script {
    Script::new(&format!("{STORE_ITEMS}\n{body}"))
}

#[async_trait]
impl QueueBackend for RedisQueue {
    async fn push(&self, items: &[NewItem]) -> Result<(), QueueError> {
        if items.is_empty() {
            return Ok(());
        }
        let k = &self.keys;
        let mut invocation = self.scripts.push.key(&k.due);
        invocation
            .key(&k.leased)
            .key(&k.payload)
            .key(&k.attempts)
            .key(&k.lease);
        push_args(&mut invocation, items);
        invocation
            .invoke_async::<i64>(&mut self.connection.clone())
            .await?;
        Ok(())
    }

    async fn poll(
        &self,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
        max_attempts: u32,
    ) -> Result<Vec<RawDelivery>, QueueError> {
        let k = &self.keys;
        // Lua builds the reason around the attempt count; its words come from one place.
        let reason = exhausted_reason(0);
        let (before, after) = reason.split_once('0').unwrap_or((&reason, ""));
        let mut invocation = self.scripts.poll.key(&k.due);
        invocation
            .key(&k.leased)
            .key(&k.payload)
            .key(&k.attempts)
            .key(&k.lease)
            .key(&k.dead)
            .arg(now_ms)
            .arg(lease_ms)
            .arg(max)
            .arg(max_attempts)
            .arg(crate::ids::long_id())
            .arg(before)
            .arg(after);
        let flat: Vec<String> = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        flat.chunks(4)
            .map(|c| match c {
                [id, payload, attempt, lease] => Ok(RawDelivery {
                    id: id.clone(),
                    payload: payload.clone(),
                    attempt: attempt
                        .parse()
                        .map_err(|_| QueueError::Corrupt(format!("attempts {attempt:?}")))?,
                    lease: lease.clone(),
                }),
                _ => Err(QueueError::Corrupt("poll returned a partial row".into())),
            })
            .collect()
    }

    async fn complete(
        &self,
        id: &str,
        lease: &str,
        follow_ups: &[NewItem],
    ) -> Result<bool, QueueError> {
        let k = &self.keys;
        let mut invocation = self.scripts.complete.key(&k.due);
        invocation
            .key(&k.leased)
            .key(&k.payload)
            .key(&k.attempts)
            .key(&k.lease)
            .arg(id)
            .arg(lease);
        push_args(&mut invocation, follow_ups);
        let done: i64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(done == 1)
    }

    async fn dead_letter(
        &self,
        id: &str,
        lease: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, QueueError> {
        let k = &self.keys;
        let mut invocation = self.scripts.dead_letter.key(&k.leased);
        invocation
            .key(&k.payload)
            .key(&k.attempts)
            .key(&k.lease)
            .key(&k.dead)
            .arg(id)
            .arg(lease)
            .arg(reason)
            .arg(now_ms);
        let done: i64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(done == 1)
    }

    async fn depth(&self, now_ms: i64) -> Result<QueueDepth, QueueError> {
        let k = &self.keys;
        let mut invocation = self.scripts.depth.key(&k.due);
        invocation.key(&k.leased).key(&k.dead).arg(now_ms);
        let [ready, scheduled, in_flight, dead, oldest_ready_ms]: [u64; 5] = invocation
            .invoke_async::<Vec<u64>>(&mut self.connection.clone())
            .await?
            .try_into()
            .map_err(|v| QueueError::Corrupt(format!("depth returned {v:?}")))?;
        Ok(QueueDepth {
            ready,
            scheduled,
            in_flight,
            dead,
            oldest_ready_ms,
        })
    }

    async fn payloads(&self) -> Result<Vec<String>, QueueError> {
        let mut c = self.connection.clone();
        Ok(redis::cmd("HVALS")
            .arg(&self.keys.payload)
            .query_async(&mut c)
            .await?)
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut c = self.connection.clone();
        let all: Vec<String> = redis::cmd("HVALS")
            .arg(&self.keys.dead)
            .query_async(&mut c)
            .await?;
        let mut letters = all
            .iter()
            .map(|json| {
                serde_json::from_str::<DeadLetter>(json)
                    .map_err(|e| QueueError::Corrupt(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        letters.sort_by(|a, b| {
            a.failed_at_ms
                .cmp(&b.failed_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        letters.truncate(limit);
        Ok(letters)
    }
}
