//! Request paths and query strings: percent-decoding, query parameters, and what a resource path
//! names (reference §1).

use std::collections::HashMap;

use crate::resources::{self, TYPES};

use super::Target;

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters; kube-rs starts its query strings with `?&`, so empty pairs are skipped.
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

pub(super) fn parse_target(segments: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            (Some(ns.to_string()), {
                let mut v = vec![*plural];
                v.extend_from_slice(tail);
                v
            })
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    let type_index = resources::find(group, version, plural)?;
    let t = &TYPES[type_index];
    if namespace.is_some() && !t.namespaced {
        return None;
    }
    if let Some(sub) = &subresource
        && !t.subresources.contains(&sub.as_str())
    {
        return None;
    }
    Some(Target {
        type_index,
        namespace,
        name,
        subresource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_rs_queries_start_with_an_empty_pair() {
        let q = parse_query(Some(
            "&labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=true",
        ));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "true");
    }

    #[test]
    fn paths_name_types_namespaces_and_subresources() {
        let t = parse_target(&[
            "apis",
            "apps",
            "v1",
            "namespaces",
            "prod",
            "deployments",
            "web",
            "scale",
        ])
        .unwrap();
        assert_eq!(
            (
                TYPES[t.type_index].plural,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("deployments", Some("prod"), Some("web"), Some("scale"))
        );
        let ns = parse_target(&["api", "v1", "namespaces", "prod"]).unwrap();
        assert_eq!(
            (TYPES[ns.type_index].plural, ns.name.as_deref()),
            ("namespaces", Some("prod"))
        );
        let all = parse_target(&["api", "v1", "pods"]).unwrap();
        assert!(all.namespace.is_none() && all.name.is_none());
        assert!(parse_target(&["apis", "apps", "v1", "namespaces", "prod", "widgets"]).is_none());
        assert!(
            parse_target(&[
                "apis",
                "apps",
                "v1",
                "namespaces",
                "prod",
                "deployments",
                "web",
                "log"
            ])
            .is_none()
        );
    }
}
