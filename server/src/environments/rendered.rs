//! One rendering of the environments board as its answer: the JSON, an entity tag naming it,
//! and the same JSON gzip-compressed — made once for every caller who shares the rendering, so
//! a hundred dashboards reading the board cost one serialisation and one compression.

use std::hash::{Hash, Hasher};
use std::io::Write;

use axum::body::Bytes;

/// The board's answer in the forms a client may ask for.
pub struct RenderedBoard {
    json: Bytes,
    etag: String,
    gzip: tokio::sync::OnceCell<Bytes>,
}

impl RenderedBoard {
    pub fn new(json: String) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        json.hash(&mut hasher);
        Self {
            etag: format!("W/\"{:016x}-{:x}\"", hasher.finish(), json.len()),
            json: Bytes::from(json),
            gzip: tokio::sync::OnceCell::new(),
        }
    }

    /// The JSON text.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// The JSON as text (for an event stream's data).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.json).expect("the board is rendered from a String")
    }

    /// An entity tag that changes whenever the JSON does. Weak: the plain and the gzip answers
    /// share it (they say the same, byte for byte they differ).
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// The JSON gzip-compressed, made by the first caller who accepts it. The fastest level:
    /// the board's JSON repeats itself, so even that shrinks it more than tenfold.
    pub async fn gzip(&self) -> &Bytes {
        self.gzip
            .get_or_init(|| async {
                let json = self.json.clone();
                let compress = move || {
                    let mut encoder = flate2::write::GzEncoder::new(
                        Vec::with_capacity(json.len() / 8),
                        flate2::Compression::fast(),
                    );
                    encoder
                        .write_all(&json)
                        .and_then(|()| encoder.finish())
                        .map(Bytes::from)
                        .expect("compressing into memory cannot fail")
                };
                // Compressing a board of thousands of workloads takes milliseconds: off the
                // threads that serve requests.
                tokio::task::spawn_blocking(compress)
                    .await
                    .expect("compressing into memory does not panic")
            })
            .await
    }
}

impl PartialEq for RenderedBoard {
    fn eq(&self, other: &Self) -> bool {
        self.etag == other.etag && self.json == other.json
    }
}

/// Whether an `Accept-Encoding` value accepts gzip (`gzip` or `*`, not with `q=0`).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        let coding = fields.next().unwrap_or_default();
        let refused = fields.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// Whether an `If-None-Match` value names `etag` (or is `*`), by weak comparison (RFC 9110
/// §13.1.2: the `W/` prefix does not count).
pub fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || opaque(t) == opaque(etag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[tokio::test]
    async fn the_compressed_answer_is_the_json() {
        let json = format!(
            "[{}]",
            vec![r#"{"application":"shop","health":"healthy"}"#; 500].join(",")
        );
        let board = RenderedBoard::new(json.clone());
        let mut out = String::new();
        flate2::read::GzDecoder::new(&board.gzip().await[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, json);
        assert!(board.gzip().await.len() * 10 < json.len());
    }

    #[test]
    fn etags_follow_the_content() {
        let a = RenderedBoard::new("{\"a\":1}".into());
        assert_eq!(a.etag(), RenderedBoard::new("{\"a\":1}".into()).etag());
        assert_ne!(a.etag(), RenderedBoard::new("{\"a\":2}".into()).etag());
        assert!(a.etag().starts_with("W/\"") && a.etag().ends_with('"'));
    }

    #[test]
    fn accept_encoding_is_read_as_http_says() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        assert!(matches_etag("\"x\"", "\"x\""));
        assert!(matches_etag("\"y\", W/\"x\"", "\"x\""));
        assert!(matches_etag("\"x\"", "W/\"x\""));
        assert!(matches_etag("W/\"x\"", "W/\"x\""));
        assert!(matches_etag("*", "\"x\""));
        assert!(!matches_etag("\"y\"", "\"x\""));
    }
}
