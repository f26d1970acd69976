//! What may go into a registry request's path, and which pages it may follow: repository names
//! and tags as the Distribution specification writes them (anything else is refused before a
//! request is made, so a name cannot reach another path of the registry with its credentials),
//! each path part percent-encoded, and `Link` pages only on the registry's own origin.

use std::sync::LazyLock;

use regex::Regex;

/// `<component>(/<component>)*`, each `[a-z0-9]+` joined by `.`, `_`, `__` or dashes.
static REPOSITORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$",
    )
    .expect("the repository grammar compiles")
});

/// A tag, or a digest (`sha256:<hex>`) where a reference is expected.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,})$",
    )
    .expect("the reference grammar compiles")
});

/// The repository as a request path part, or why it is not a repository name.
pub(super) fn repository_path(repository: &str) -> Result<String, String> {
    if repository.len() > 255 || !REPOSITORY.is_match(repository) {
        return Err(format!(
            "'{}' is not a repository name (lower-case letters, digits and separators, parts joined by '/')",
            shown(repository)
        ));
    }
    Ok(repository
        .split('/')
        .map(encode)
        .collect::<Vec<_>>()
        .join("/"))
}

/// A tag or digest as a request path part, or why it is neither.
pub(super) fn reference_path(reference: &str) -> Result<String, String> {
    if !REFERENCE.is_match(reference) {
        return Err(format!(
            "'{}' is not a tag (letters, digits, '_', '.', '-'; at most 128) or a digest",
            shown(reference)
        ));
    }
    Ok(encode(reference))
}

/// The next page of a listing from a `Link: <…>; rel="next"` header: a path on the registry,
/// whether the header gives it as a path or as a URL on the registry's own origin. A page on
/// another origin is not followed (the request would carry the registry's credentials there).
pub(super) fn next_page(link: &str, origin: &str) -> Result<Option<String>, String> {
    let Some(target) = link
        .split(',')
        .find(|l| l.contains("rel=\"next\"") || l.contains("rel=next"))
        .and_then(|l| Some(l[l.find('<')? + 1..l.find('>')?].trim().to_owned()))
    else {
        return Ok(None);
    };
    let path = if target.starts_with('/') {
        target
    } else {
        match target.strip_prefix(origin) {
            Some(rest) if rest.starts_with('/') => rest.to_owned(),
            _ => {
                return Err(format!(
                    "its next page is on another address ({}); not followed",
                    shown(&target)
                ));
            }
        }
    };
    if !path.starts_with("/v2/") || path.contains("/../") || path.contains('\\') {
        return Err(format!(
            "its next page is not a registry listing ({})",
            shown(&path)
        ));
    }
    Ok(Some(path))
}

/// Percent-encodes everything but unreserved characters.
fn encode(part: &str) -> String {
    part.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A value for a message: at most 100 characters, control characters shown as `?`.
fn shown(value: &str) -> String {
    value
        .chars()
        .take(100)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_distribution_grammar() {
        for good in ["shop", "shop/api", "team-a/shop__x/web.v2", "a/b/c/d"] {
            assert_eq!(repository_path(good).as_deref(), Ok(good), "{good}");
        }
        for bad in [
            "",
            "Shop",
            "shop/",
            "/shop",
            "shop//api",
            "shop/../../v2/_catalog",
            "shop/api?n=1",
            "shop/api#x",
            "shop api",
            "shop/-api",
            "shop%2fapi",
        ] {
            assert!(repository_path(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn tags_and_digests_are_single_path_parts() {
        for good in [
            "1.2.3",
            "latest",
            "v1_rc-2",
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(reference_path(good).as_deref(), Ok(good));
        }
        for bad in [
            "",
            ".hidden",
            "a/b",
            "../x",
            "x?y",
            &"t".repeat(129),
            "tag\n",
        ] {
            assert!(reference_path(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn next_pages_stay_on_the_registry() {
        let origin = "https://harbor.example.com";
        let page = |link: &str| next_page(link, origin);
        assert_eq!(
            page(r#"</v2/shop/tags/list?last=b&n=2>; rel="next""#),
            Ok(Some("/v2/shop/tags/list?last=b&n=2".into()))
        );
        assert_eq!(
            page(r#"<https://harbor.example.com/v2/_catalog?last=x&n=100>; rel="next""#),
            Ok(Some("/v2/_catalog?last=x&n=100".into()))
        );
        assert!(page(r#"<https://evil.example/v2/_catalog>; rel="next""#).is_err());
        assert!(page(r#"<https://harbor.example.com.evil.example/v2/x>; rel="next""#).is_err());
        assert!(page(r#"</admin/users>; rel="next""#).is_err());
        assert_eq!(page(r#"</v2/x>; rel="prev""#), Ok(None));
    }
}
