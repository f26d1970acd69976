//! The work queue's contract: every backend (SQLite, PostgreSQL, Redis) must behave exactly like
//! this. Time is a manual clock, moved by the tests; nothing sleeps.

use crate::support;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use server::orchestration::messages::Message;
use server::orchestration::queue::{
    DatabaseQueue, ManualClock, NewItem, QueueDepth, QueueSettings, WorkQueue,
};

#[derive(Clone, Copy)]
enum Kind {
    Sqlite,
    Postgres,
    Redis,
}

/// Runs `body` with a fresh, empty queue of `kind`, then removes its data.
async fn with_queue<F, Fut>(kind: Kind, settings: QueueSettings, body: F)
where
    F: FnOnce(WorkQueue, ManualClock) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::starting_at(1_800_000_000_000);
    match kind {
        Kind::Sqlite | Kind::Postgres => {
            let backend = if matches!(kind, Kind::Sqlite) {
                support::Backend::Sqlite
            } else {
                support::Backend::Postgres
            };
            let db = support::TestDatabase::create(backend).await;
            let store = db.store().await;
            let queue = WorkQueue::new(
                Arc::new(DatabaseQueue::new(&store)),
                Arc::new(clock.clone()),
                settings,
            );
            let outcome = tokio::spawn(body(queue, clock)).await;
            store.close().await.unwrap();
            db.drop().await;
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        Kind::Redis => {
            let redis = support::redis_queue().await;
            let queue = WorkQueue::new(Arc::new(redis.clone()), Arc::new(clock.clone()), settings);
            let outcome = tokio::spawn(body(queue, clock)).await;
            redis.delete_all().await.unwrap();
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

fn start(execution: &str) -> Message {
    Message::StartExecution {
        execution: execution.into(),
    }
}

fn settings(visibility_timeout_s: u64, max_attempts: u32) -> QueueSettings {
    QueueSettings {
        visibility_timeout: Duration::from_secs(visibility_timeout_s),
        max_attempts,
    }
}

async fn a_due_message_is_delivered_once_while_leased(q: WorkQueue, _clock: ManualClock) {
    q.push(&start("e1"), Duration::ZERO).await.unwrap();
    let got = q.poll(10).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((&got[0].message, got[0].attempt), (&start("e1"), 1));
    assert!(q.poll(10).await.unwrap().is_empty());
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            in_flight: 1,
            ..Default::default()
        }
    );
}

async fn a_delayed_message_waits_until_it_is_due(q: WorkQueue, clock: ManualClock) {
    q.push(&start("later"), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(q.poll(10).await.unwrap().is_empty());
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            scheduled: 1,
            ..Default::default()
        }
    );
    clock.advance(Duration::from_millis(4_999));
    assert!(q.poll(10).await.unwrap().is_empty());
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            ready: 1,
            ..Default::default()
        }
    );
    // Not taken yet: it has waited since it was due.
    clock.advance(Duration::from_millis(250));
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            ready: 1,
            oldest_ready_ms: 250,
            ..Default::default()
        }
    );
    assert_eq!(q.poll(10).await.unwrap()[0].message, start("later"));
}

async fn an_unacked_message_is_delivered_again_after_the_visibility_timeout(
    q: WorkQueue,
    clock: ManualClock,
) {
    q.push(&start("e1"), Duration::ZERO).await.unwrap();
    let first = q.poll(10).await.unwrap().remove(0);
    clock.advance(Duration::from_secs(29));
    assert!(q.poll(10).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(1));
    let second = q.poll(10).await.unwrap().remove(0);
    assert_eq!((second.id.as_str(), second.attempt), (first.id.as_str(), 2));
    // The first consumer lost its lease: its ack must not remove the new delivery.
    assert!(!q.ack(&first).await.unwrap());
    assert!(q.ack(&second).await.unwrap());
    clock.advance(Duration::from_secs(120));
    assert!(q.poll(10).await.unwrap().is_empty());
    assert_eq!(q.depth().await.unwrap(), QueueDepth::default());
}

async fn complete_acks_and_enqueues_follow_ups_together(q: WorkQueue, clock: ManualClock) {
    q.push(
        &Message::StartStage {
            execution: "e1".into(),
            stage: "s1".into(),
        },
        Duration::ZERO,
    )
    .await
    .unwrap();
    let d = q.poll(10).await.unwrap().remove(0);
    let run = Message::RunTask {
        execution: "e1".into(),
        stage: "s1".into(),
        task: "t1".into(),
    };
    let check = Message::CompleteStage {
        execution: "e1".into(),
        stage: "s1".into(),
    };
    assert!(
        q.complete(
            &d,
            &[
                (run.clone(), Duration::ZERO),
                (check.clone(), Duration::from_secs(10))
            ]
        )
        .await
        .unwrap()
    );
    let next = q.poll(10).await.unwrap();
    assert_eq!(next.iter().map(|d| &d.message).collect::<Vec<_>>(), [&run]);
    assert!(q.ack(&next[0]).await.unwrap());
    clock.advance(Duration::from_secs(10));
    let later = q.poll(10).await.unwrap();
    assert_eq!(
        later.iter().map(|d| &d.message).collect::<Vec<_>>(),
        [&check]
    );

    // A consumer that lost its lease stores none of its follow-ups.
    clock.advance(Duration::from_secs(30));
    let again = q.poll(10).await.unwrap().remove(0);
    assert_eq!(again.attempt, 2);
    assert!(
        !q.complete(&later[0], &[(start("never"), Duration::ZERO)])
            .await
            .unwrap()
    );
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            in_flight: 1,
            ..Default::default()
        }
    );
}

async fn a_message_delivered_too_often_goes_to_the_dead_letters(q: WorkQueue, clock: ManualClock) {
    q.push(&start("poison"), Duration::ZERO).await.unwrap();
    for attempt in 1..=3 {
        let got = q.poll(10).await.unwrap();
        assert_eq!(got.len(), 1, "attempt {attempt}");
        assert_eq!(got[0].attempt, attempt);
        clock.advance(Duration::from_secs(1));
    }
    assert!(q.poll(10).await.unwrap().is_empty());
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(
        dead[0].reason,
        "delivered 3 times without being acknowledged"
    );
    assert_eq!(
        serde_json::from_str::<Message>(&dead[0].payload).unwrap(),
        start("poison")
    );
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            dead: 1,
            ..Default::default()
        }
    );
}

async fn a_consumer_can_dead_letter_a_message(q: WorkQueue, clock: ManualClock) {
    q.push(&start("bad"), Duration::ZERO).await.unwrap();
    let d = q.poll(10).await.unwrap().remove(0);
    assert!(q.dead_letter(&d, "stage type not supported").await.unwrap());
    assert!(!q.dead_letter(&d, "twice").await.unwrap());
    clock.advance(Duration::from_secs(600));
    assert!(q.poll(10).await.unwrap().is_empty());
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(
        (dead.len(), dead[0].reason.as_str(), dead[0].attempts),
        (1, "stage type not supported", 1)
    );
}

async fn an_unreadable_message_is_dead_lettered_not_delivered(q: WorkQueue, _clock: ManualClock) {
    let garbage = NewItem {
        id: "garbage-1".into(),
        payload: "{\"type\":\"noSuchMessage\"}".into(),
        deliver_at_ms: 0,
        lease: None,
    };
    q.backend().push(&[garbage]).await.unwrap();
    q.push(&start("fine"), Duration::ZERO).await.unwrap();
    let got = q.poll(10).await.unwrap();
    assert_eq!(
        got.iter().map(|d| &d.message).collect::<Vec<_>>(),
        [&start("fine")]
    );
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, "garbage-1");
    assert!(
        dead[0].reason.starts_with("unreadable message:"),
        "{}",
        dead[0].reason
    );
}

async fn due_messages_come_in_due_order_and_poll_takes_at_most_max(
    q: WorkQueue,
    clock: ManualClock,
) {
    for (name, secs) in [("a", 3), ("b", 1), ("c", 2), ("d", 4), ("e", 5)] {
        q.push(&start(name), Duration::from_secs(secs))
            .await
            .unwrap();
    }
    clock.advance(Duration::from_secs(5));
    let first = q.poll(2).await.unwrap();
    let rest = q.poll(10).await.unwrap();
    let order: Vec<&str> = first
        .iter()
        .chain(&rest)
        .map(|d| d.message.execution())
        .collect();
    assert_eq!((first.len(), order), (2, vec!["b", "c", "a", "d", "e"]));
}

async fn concurrent_pollers_lease_each_message_once(q: WorkQueue, _clock: ManualClock) {
    const N: usize = 60;
    for i in 0..N {
        q.push(&start(&format!("e{i}")), Duration::ZERO)
            .await
            .unwrap();
    }
    let pollers = (0..4).map(|_| {
        let q = q.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let batch = q.poll(5).await.unwrap();
                if batch.is_empty() {
                    return seen;
                }
                for d in batch {
                    assert!(q.ack(&d).await.unwrap());
                    seen.push(d.message.execution().to_owned());
                }
            }
        })
    });
    let mut all = Vec::new();
    for p in pollers {
        all.extend(p.await.unwrap());
    }
    // A poller may stop early while others still hold leases; drain what is left.
    for d in q.poll(N).await.unwrap() {
        assert!(q.ack(&d).await.unwrap());
        all.push(d.message.execution().to_owned());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (N, N));
    assert_eq!(q.depth().await.unwrap(), QueueDepth::default());
}

async fn a_claimed_message_is_stored_leased_to_its_writer(q: WorkQueue, clock: ManualClock) {
    let (item, delivery) = q.claimed_item(&start("mine"));
    q.backend().push(&[item]).await.unwrap();
    // Nobody else sees it while its writer handles it...
    assert!(q.poll(10).await.unwrap().is_empty());
    let payloads = q.backend().payloads().await.unwrap();
    assert_eq!(
        payloads
            .iter()
            .map(|p| serde_json::from_str::<Message>(p).unwrap())
            .collect::<Vec<_>>(),
        [start("mine")]
    );
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            in_flight: 1,
            ..Default::default()
        }
    );
    assert_eq!((delivery.attempt, &delivery.message), (1, &start("mine")));
    // ...and if the writer dies, it comes back once the lease runs out, as a second delivery.
    clock.advance(Duration::from_secs(31));
    let again = q.poll(10).await.unwrap();
    assert_eq!(
        again
            .iter()
            .map(|d| (d.attempt, &d.message))
            .collect::<Vec<_>>(),
        [(2, &start("mine"))]
    );
    assert!(!q.ack(&delivery).await.unwrap(), "the first lease is gone");
    assert!(q.ack(&again[0]).await.unwrap());

    // A writer that settles it in time leaves nothing behind.
    let (item, delivery) = q.claimed_item(&start("settled"));
    q.backend().push(&[item]).await.unwrap();
    assert!(q.ack(&delivery).await.unwrap());
    clock.advance(Duration::from_secs(120));
    assert!(q.poll(10).await.unwrap().is_empty());
    assert_eq!(q.depth().await.unwrap(), QueueDepth::default());
}

macro_rules! contract {
    ($($case:ident: $settings:expr),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::with_queue(super::Kind::Sqlite, $settings, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::with_queue(super::Kind::Postgres, $settings, super::$case).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::with_queue(super::Kind::Redis, $settings, super::$case).await;
                }
            )*
        }
    };
}

contract!(
    a_due_message_is_delivered_once_while_leased: super::settings(30, 5),
    a_delayed_message_waits_until_it_is_due: super::settings(30, 5),
    an_unacked_message_is_delivered_again_after_the_visibility_timeout: super::settings(30, 5),
    complete_acks_and_enqueues_follow_ups_together: super::settings(30, 5),
    a_message_delivered_too_often_goes_to_the_dead_letters: super::settings(1, 3),
    a_consumer_can_dead_letter_a_message: super::settings(30, 5),
    an_unreadable_message_is_dead_lettered_not_delivered: super::settings(30, 5),
    due_messages_come_in_due_order_and_poll_takes_at_most_max: super::settings(30, 5),
    concurrent_pollers_lease_each_message_once: super::settings(60, 5),
    a_claimed_message_is_stored_leased_to_its_writer: super::settings(30, 5),
);
