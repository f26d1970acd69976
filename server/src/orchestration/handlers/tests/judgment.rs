//! Manual judgments: recorded once, on a waiting stage, with an offered choice.

use super::*;

#[test]
fn a_judgment_is_recorded_only_on_a_waiting_judgment_stage_and_wakes_its_task() {
    let mut sim = Sim::new(
        execution(json!([
            wait("1", &[]),
            {"refId": "2", "type": "manualJudgment", "name": "Approve", "requisiteStageRefIds": []}
        ])),
        |_| TaskResult::Running {
            check_again_in: Duration::from_secs(30),
        },
    );
    sim.run();
    let refused = record_judgment(
        &mut sim.execution,
        "1",
        JudgmentDecision::Continue,
        None,
        "ann",
    );
    assert!(
        matches!(refused, Err(EngineError::Conflict(m)) if m.contains("not waiting for a judgment"))
    );
    assert!(matches!(
        record_judgment(
            &mut sim.execution,
            "9",
            JudgmentDecision::Continue,
            None,
            "ann"
        ),
        Err(EngineError::NotFound(_))
    ));
    let wake = record_judgment(
        &mut sim.execution,
        "2",
        JudgmentDecision::Stop,
        Some("hold"),
        "ann",
    )
    .unwrap();
    assert_eq!(
        wake,
        vec![Message::RunTask {
            execution: id(),
            stage: "2".into(),
            task: "1".into()
        }]
    );
    let stage = sim.execution.stage("2").unwrap();
    assert_eq!(stage.judgment_decision(), Some(JudgmentDecision::Stop));
    assert_eq!(stage.judgment().unwrap().by, "ann");
    // Taken once: the second judge learns who decided.
    let second = record_judgment(
        &mut sim.execution,
        "2",
        JudgmentDecision::Continue,
        None,
        "bob",
    );
    assert!(
        matches!(&second, Err(EngineError::Conflict(m)) if m.contains("already judged: stop by ann")),
        "{second:?}"
    );
    assert_eq!(
        sim.execution.stage("2").unwrap().judgment_decision(),
        Some(JudgmentDecision::Stop)
    );
}

#[test]
fn a_judgment_input_must_be_one_of_the_offered_choices() {
    let mut sim = Sim::new(
        execution(json!([
            {"refId": "1", "type": "manualJudgment", "name": "Approve", "requisiteStageRefIds": [],
             "judgmentInputs": [{"value": "promote"}, {"value": "hold"}]}
        ])),
        |_| TaskResult::Running {
            check_again_in: Duration::from_secs(30),
        },
    );
    sim.run();
    let bad = record_judgment(
        &mut sim.execution,
        "1",
        JudgmentDecision::Continue,
        Some("yolo"),
        "ann",
    );
    assert!(
        matches!(&bad, Err(EngineError::Invalid { field, message }) if field == "judgmentInput" && message.contains("promote, hold")),
        "{bad:?}"
    );
    assert!(
        record_judgment(
            &mut sim.execution,
            "1",
            JudgmentDecision::Continue,
            Some("promote"),
            "ann"
        )
        .is_ok()
    );
}
