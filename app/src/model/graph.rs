//! Laying out a pipeline's stage graph: columns by dependency depth (the longest path from a
//! stage without requisites), stages stacked within a column, ordered to keep edges short
//! (each stage placed near the mean row of its upstream stages), and one edge per requisite.
//! Pure geometry, shared by the execution page and the pipeline editor; the UI draws it as SVG.

use std::collections::HashMap;

/// What the layout needs of a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphStage {
    pub ref_id: String,
    pub requisites: Vec<String>,
}

/// Sizes in SVG user units.
// Whole pixels (even sizes, so halves are whole too): formatting them needs no float
// formatting code in the browser bundle.
pub const NODE_WIDTH: i32 = 168;
pub const NODE_HEIGHT: i32 = 44;
pub const COLUMN_GAP: i32 = 56;
pub const ROW_GAP: i32 = 18;
pub const MARGIN: i32 = 8;

#[derive(Clone, Debug, PartialEq)]
pub struct PlacedNode {
    /// Index into the stages given.
    pub index: usize,
    pub column: usize,
    pub row: usize,
    pub x: i32,
    pub y: i32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// Indexes of the upstream and downstream stage.
    pub from: usize,
    pub to: usize,
    /// An SVG path from the right middle of `from` to the left middle of `to`.
    pub path: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub nodes: Vec<PlacedNode>,
    pub edges: Vec<Edge>,
    pub width: i32,
    pub height: i32,
}

/// Each stage's column: 0 without requisites, else one more than its deepest requisite.
/// Requisites that name no stage are ignored; a cycle (refused on save) is cut where found.
fn columns(stages: &[GraphStage]) -> Vec<usize> {
    let by_ref: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.ref_id.as_str(), i))
        .collect();
    let mut column: Vec<Option<usize>> = vec![None; stages.len()];
    fn depth(
        i: usize,
        stages: &[GraphStage],
        by_ref: &HashMap<&str, usize>,
        column: &mut Vec<Option<usize>>,
        visiting: &mut Vec<bool>,
    ) -> usize {
        if let Some(c) = column[i] {
            return c;
        }
        if visiting[i] {
            return 0;
        }
        visiting[i] = true;
        let mut c = 0;
        for r in &stages[i].requisites {
            if let Some(&j) = by_ref.get(r.as_str()) {
                c = c.max(depth(j, stages, by_ref, column, visiting) + 1);
            }
        }
        visiting[i] = false;
        column[i] = Some(c);
        c
    }
    let mut visiting = vec![false; stages.len()];
    (0..stages.len())
        .map(|i| depth(i, stages, &by_ref, &mut column, &mut visiting))
        .collect()
}

pub fn layout(stages: &[GraphStage]) -> Layout {
    let by_ref: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.ref_id.as_str(), i))
        .collect();
    let column = columns(stages);
    let columns_count = column.iter().max().map_or(0, |m| m + 1);
    // Rows: the first column in the order given; later ones by the mean row of their upstream
    // stages (ties keep the order given).
    let mut row = vec![0usize; stages.len()];
    let mut tallest = 0;
    for c in 0..columns_count {
        let mut members: Vec<usize> = (0..stages.len()).filter(|&i| column[i] == c).collect();
        if c > 0 {
            let key = |i: usize| {
                let ups: Vec<f64> = stages[i]
                    .requisites
                    .iter()
                    .filter_map(|r| by_ref.get(r.as_str()))
                    .map(|&j| row[j] as f64)
                    .collect();
                if ups.is_empty() {
                    f64::MAX
                } else {
                    ups.iter().sum::<f64>() / ups.len() as f64
                }
            };
            // Insertion by (mean upstream row, order given): a column holds a few stages, and
            // a library sort would add kilobytes to the bundle of each page that draws graphs.
            let mut sorted: Vec<(f64, usize)> = Vec::with_capacity(members.len());
            for i in members {
                let k = key(i);
                let at = sorted
                    .iter()
                    .position(|&(sk, si)| k < sk || (k == sk && i < si))
                    .unwrap_or(sorted.len());
                sorted.insert(at, (k, i));
            }
            members = sorted.into_iter().map(|(_, i)| i).collect();
        }
        for (r, &i) in members.iter().enumerate() {
            row[i] = r;
        }
        tallest = tallest.max(members.len());
    }
    // Columns and rows are bounded by the stage count (itself bounded on save).
    let at = |i: usize| i32::try_from(i).unwrap_or(i32::MAX / 1024);
    let x_of = |c: usize| MARGIN + at(c) * (NODE_WIDTH + COLUMN_GAP);
    let y_of = |r: usize| MARGIN + at(r) * (NODE_HEIGHT + ROW_GAP);
    let nodes: Vec<PlacedNode> = (0..stages.len())
        .map(|i| PlacedNode {
            index: i,
            column: column[i],
            row: row[i],
            x: x_of(column[i]),
            y: y_of(row[i]),
        })
        .collect();
    let mut edges = Vec::new();
    for (to, s) in stages.iter().enumerate() {
        for r in &s.requisites {
            let Some(&from) = by_ref.get(r.as_str()) else {
                continue;
            };
            if column[from] >= column[to] {
                continue;
            }
            let (x1, y1) = (nodes[from].x + NODE_WIDTH, nodes[from].y + NODE_HEIGHT / 2);
            let (x2, y2) = (nodes[to].x, nodes[to].y + NODE_HEIGHT / 2);
            let bend = (x2 - x1) / 2;
            edges.push(Edge {
                from,
                to,
                path: format!(
                    "M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}",
                    x1 + bend,
                    x2 - bend
                ),
            });
        }
    }
    Layout {
        nodes,
        edges,
        width: if columns_count == 0 {
            0
        } else {
            x_of(columns_count - 1) + NODE_WIDTH + MARGIN
        },
        height: if tallest == 0 {
            0
        } else {
            y_of(tallest - 1) + NODE_HEIGHT + MARGIN
        },
    }
}

/// A duration in words for a node: `42s`, `3m 05s`, `1h 02m`.
pub fn short_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(r: &str, reqs: &[&str]) -> GraphStage {
        GraphStage {
            ref_id: r.into(),
            requisites: reqs.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn overlaps(a: &PlacedNode, b: &PlacedNode) -> bool {
        a.x < b.x + NODE_WIDTH
            && b.x < a.x + NODE_WIDTH
            && a.y < b.y + NODE_HEIGHT
            && b.y < a.y + NODE_HEIGHT
    }

    #[test]
    fn two_parallel_branches_and_a_join() {
        // build → (test-a → verify-a) and (test-b) → deploy
        let stages = [
            stage("build", &[]),
            stage("test-a", &["build"]),
            stage("verify-a", &["test-a"]),
            stage("test-b", &["build"]),
            stage("deploy", &["verify-a", "test-b"]),
        ];
        let l = layout(&stages);
        let col: Vec<usize> = l.nodes.iter().map(|n| n.column).collect();
        assert_eq!(col, [0, 1, 2, 1, 3], "columns by the longest path");
        assert_ne!(
            l.nodes[1].row, l.nodes[3].row,
            "parallel stages are stacked"
        );
        for (i, a) in l.nodes.iter().enumerate() {
            for b in &l.nodes[i + 1..] {
                assert!(!overlaps(a, b), "{a:?} overlaps {b:?}");
            }
        }
        let pairs: Vec<(usize, usize)> = l.edges.iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(pairs, [(0, 1), (1, 2), (0, 3), (2, 4), (3, 4)]);
        // Each edge starts at its upstream node's right side and ends at the downstream's left.
        for e in &l.edges {
            let (from, to) = (&l.nodes[e.from], &l.nodes[e.to]);
            assert!(
                e.path.starts_with(&format!(
                    "M{},{} ",
                    from.x + NODE_WIDTH,
                    from.y + NODE_HEIGHT / 2
                )),
                "{}",
                e.path
            );
            assert!(
                e.path
                    .ends_with(&format!(" {},{}", to.x, to.y + NODE_HEIGHT / 2)),
                "{}",
                e.path
            );
        }
        assert!(l.width >= l.nodes[4].x + NODE_WIDTH && l.height >= 2 * NODE_HEIGHT);
    }

    #[test]
    fn thirty_stages_stay_on_a_grid_and_odd_input_does_not_break_it() {
        let mut stages = vec![stage("0", &[])];
        for i in 1..30 {
            let up = ((i - 1) / 3 * 3).to_string();
            stages.push(stage(&i.to_string(), &[&up]));
        }
        let l = layout(&stages);
        assert_eq!(l.nodes.len(), 30);
        let mut seen = std::collections::HashSet::new();
        for n in &l.nodes {
            assert!(seen.insert((n.column, n.row)), "two stages in one cell");
        }
        // Unknown requisites are ignored; a cycle is cut instead of looping.
        let odd = layout(&[
            stage("a", &["ghost"]),
            stage("b", &["c"]),
            stage("c", &["b"]),
        ]);
        assert_eq!(odd.nodes[0].column, 0);
        assert_eq!(odd.nodes.len(), 3);
        assert_eq!(layout(&[]).width, 0);
        assert_eq!(
            (
                short_duration(42_000),
                short_duration(185_000),
                short_duration(3_720_000)
            ),
            ("42s".into(), "3m 05s".into(), "1h 02m".into())
        );
    }
}
