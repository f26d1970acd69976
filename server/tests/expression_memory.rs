//! Issue 13's blow-up expressions, measured by what they allocate (this test binary counts
//! every allocation): each is refused, naming the limit, before its memory is taken.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use domain::execution::Execution;
use serde_json::json;
use server::orchestration::expressions::{Scope, evaluate};

/// The system allocator, counting the bytes in use and the most in use since the last reset.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most memory in use while `f` ran, above what was in use before.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - before)
}

fn execution(trigger_blob: usize) -> Execution {
    serde_json::from_value(json!({
        "id": "e1", "application": "shop", "pipelineConfigId": "p", "name": "Deploy",
        "status": "RUNNING", "buildTime": 0, "startTime": 0, "endTime": null,
        "trigger": {"type": "webhook", "parameters": {"tag": "1.2.3"},
            "payload": {"blob": "x".repeat(trigger_blob)}},
        "stages": [], "canceled": false, "canceledBy": null, "cancellationReason": null
    }))
    .unwrap()
}

const MB: usize = 1024 * 1024;

#[test]
fn blow_up_expressions_are_refused_without_taking_their_memory() {
    let e = execution(10);
    let scope = Scope::new(&e, None);
    // 225 characters that once built a 214-million-character string (2.6 GB).
    let blow_up = format!("'aaaaaaaaaa'{}", ".replace('','aaaaaaaaaa')".repeat(8));
    let doubling = format!(
        "'{}'{}",
        "ab".repeat(50),
        ".replace('a', 'aaaaaaaaaaaaaaaa')".repeat(6)
    );
    let split_all = format!(
        "'{}'.replace('', 'x').replace('', 'y').split('')",
        "z".repeat(4000)
    );
    for text in [blow_up, doubling, split_all] {
        let (result, grew) = peak_growth(|| evaluate(&text, &scope));
        let err = result.unwrap_err();
        // Refused by a size or step limit — or, on a machine busy enough, by the time limit
        // first (both are limits; what this test checks is the memory it took).
        assert!(
            err.contains("expressions.max") || err.contains("expressions.timeout_ms"),
            "{text}: {err}"
        );
        assert!(grew < 50 * MB, "{text}: grew by {grew} bytes");
    }
}

#[test]
fn a_large_trigger_is_not_copied_for_each_read() {
    let e = execution(2 * MB);
    let scope = Scope::new(&e, None);
    let reads = std::iter::repeat_n("trigger.parameters.tag", 150)
        .collect::<Vec<_>>()
        .join(" + ");
    let (result, grew) = peak_growth(|| evaluate(&reads, &scope));
    assert_eq!(result.unwrap().as_str().unwrap().len(), 150 * 5);
    // Once copied per read, this was 150 × 2 MB; now nothing near one copy.
    assert!(grew < MB, "grew by {grew} bytes");
}
