//! The budget of one evaluation: steps (one per node, plus one per KiB of text or JSON built or
//! copied), a deadline, and the largest text or document any step may build. Every operation
//! that allocates asks first, so a blow-up is refused before the memory is taken.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `[expressions]` in the configuration: the bounds of one stage's evaluation (all of its
/// `${…}`), and of one expression in the debugger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpressionLimits {
    /// Steps at most: one per expression node, one per KiB built or copied.
    pub max_steps: usize,
    /// The largest text, list or document an expression may build (and its result).
    pub max_result_bytes: usize,
    /// Wall-clock time at most.
    pub timeout_ms: u64,
}

impl Default for ExpressionLimits {
    fn default() -> Self {
        Self {
            max_steps: 100_000,
            max_result_bytes: 256 * 1024,
            timeout_ms: 100,
        }
    }
}

/// What is left of the limits while an evaluation runs.
pub(super) struct Budget {
    limits: ExpressionLimits,
    steps_left: usize,
    deadline: Instant,
    since_clock: u32,
}

/// How many steps pass between looks at the clock.
const CLOCK_EVERY: u32 = 64;

impl Budget {
    pub(super) fn new(limits: ExpressionLimits) -> Self {
        Self {
            limits,
            steps_left: limits.max_steps,
            deadline: Instant::now() + Duration::from_millis(limits.timeout_ms),
            since_clock: 0,
        }
    }

    pub(super) fn max_bytes(&self) -> usize {
        self.limits.max_result_bytes
    }

    /// Spends `n` steps; fails once the steps or the time are used up.
    pub(super) fn spend(&mut self, n: usize) -> Result<(), String> {
        if n > self.steps_left {
            self.steps_left = 0;
            return Err(format!(
                "the expression takes more than {} steps (expressions.max_steps)",
                self.limits.max_steps
            ));
        }
        self.steps_left -= n;
        self.since_clock += 1;
        if n > 1 || self.since_clock >= CLOCK_EVERY {
            self.since_clock = 0;
            if Instant::now() > self.deadline {
                return Err(format!(
                    "the expression takes longer than {} ms (expressions.timeout_ms)",
                    self.limits.timeout_ms
                ));
            }
        }
        Ok(())
    }

    /// Asks to build `bytes` bytes: refused beyond the size limit, else paid in steps.
    pub(super) fn build(&mut self, bytes: usize) -> Result<(), String> {
        if bytes > self.limits.max_result_bytes {
            return Err(too_large(self.limits.max_result_bytes));
        }
        self.spend(1 + bytes / 1024)
    }

    /// The JSON text of `value`, refused (before it is all written) beyond the size limit.
    pub(super) fn json_text(&mut self, value: &Value) -> Result<String, String> {
        let max = self.limits.max_result_bytes;
        let mut out = Bounded {
            bytes: Vec::new(),
            max,
        };
        serde_json::to_writer(&mut out, value).map_err(|_| too_large(max))?;
        self.build(out.bytes.len())?;
        Ok(String::from_utf8(out.bytes).expect("serde_json writes UTF-8"))
    }

    /// Text as SpEL's `toString` gives it for JSON data, within the size limit.
    pub(super) fn text(&mut self, value: &Value) -> Result<String, String> {
        match value {
            Value::String(s) => {
                self.build(s.len())?;
                Ok(s.clone())
            }
            Value::Null => Ok("null".into()),
            other => self.json_text(other),
        }
    }

    /// The size of `value` as JSON, if it is within the limit (counted without building it).
    pub(super) fn fits(&mut self, value: &Value) -> Result<(), String> {
        let max = self.limits.max_result_bytes;
        if let Value::String(s) = value {
            return self.build(s.len());
        }
        let mut counter = Counter { count: 0, max };
        serde_json::to_writer(&mut counter, value).map_err(|_| too_large(max))?;
        self.build(counter.count)
    }
}

pub(super) fn too_large(max: usize) -> String {
    format!("the result would be larger than {max} bytes (expressions.max_result_bytes)")
}

/// A writer that stops at `max` bytes.
struct Bounded {
    bytes: Vec<u8>,
    max: usize,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.max {
            return Err(std::io::Error::other("too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer that only counts, stopping at `max` bytes.
struct Counter {
    count: usize,
    max: usize,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.count += buf.len();
        if self.count > self.max {
            return Err(std::io::Error::other("too large"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
