//! The garbage collector: dependents whose owners are gone are removed, and foreground deletion
//! removes dependents before the owner's `foregroundDeletion` finalizer.

use serde_json::json;

use crate::objects::{Part, owner_uids};
use crate::store::{Key, State, uid_of};

use super::write;

pub(super) fn garbage_collect(state: &mut State) {
    let uids: std::collections::HashSet<String> = state
        .objects
        .values()
        .map(|o| uid_of(o).to_owned())
        .collect();
    let orphans: Vec<Key> = state
        .objects
        .iter()
        .filter(|(_, o)| {
            let owners: Vec<&str> = owner_uids(o).collect();
            !owners.is_empty() && owners.iter().all(|u| !uids.contains(*u))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for key in orphans {
        state.remove(&key);
    }
    // Foreground deletion: dependents go first, then the owner's finalizer is removed.
    let waiting: Vec<(Key, String)> = state
        .objects
        .iter()
        .filter(|(_, o)| {
            o["metadata"].get("deletionTimestamp").is_some()
                && o["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| f.contains(&json!("foregroundDeletion")))
        })
        .map(|(k, o)| (k.clone(), uid_of(o).to_owned()))
        .collect();
    for (key, uid) in waiting {
        let dependents: Vec<Key> = state
            .objects
            .iter()
            .filter(|(_, o)| owner_uids(o).any(|u| u == uid))
            .map(|(k, _)| k.clone())
            .collect();
        if dependents.is_empty() {
            if let Some(mut o) = state.objects.get(&key).cloned() {
                if let Some(f) = o["metadata"]["finalizers"].as_array_mut() {
                    f.retain(|x| x != "foregroundDeletion");
                }
                write(state, &key, o, Part::Main);
            }
        } else {
            for d in dependents {
                let _ = crate::objects::delete(
                    state,
                    &d,
                    crate::objects::Propagation::Foreground,
                    None,
                    false,
                );
            }
        }
    }
}
