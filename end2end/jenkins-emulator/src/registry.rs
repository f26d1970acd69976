//! Pushing a real image to a Docker registry (Distribution HTTP API v2): an OCI image with one
//! small layer (a tar holding `/build-info`), its config, and the manifest under the tag. The
//! digest is the registry's `Docker-Content-Digest` for the manifest.

use serde_json::json;
use sha2::Digest;

use crate::script::PushImage;

fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// A ustar archive with one regular file.
fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

async fn upload(
    http: &reqwest::Client,
    registry: &str,
    repository: &str,
    blob: &[u8],
) -> Result<String, String> {
    let digest = sha256(blob);
    let head = http
        .head(format!("{registry}/v2/{repository}/blobs/{digest}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if head.status().is_success() {
        return Ok(digest);
    }
    let started = http
        .post(format!("{registry}/v2/{repository}/blobs/uploads/"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if started.status().as_u16() != 202 {
        return Err(format!("starting an upload answered {}", started.status()));
    }
    let location = started
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("the upload has no Location")?
        .to_owned();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{registry}{location}")
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = http
        .put(format!("{location}{separator}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(blob.to_vec())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if put.status().as_u16() != 201 {
        return Err(format!("finishing an upload answered {}", put.status()));
    }
    Ok(digest)
}

/// Pushes `repository:tag`; `info` becomes the layer's `/build-info`. Returns the digest.
pub async fn push(http: &reqwest::Client, image: &PushImage, info: &str) -> Result<String, String> {
    let registry = image.registry.trim_end_matches('/');
    let layer = tar_with("build-info", info.as_bytes());
    let layer_digest = upload(http, registry, &image.repository, &layer).await?;
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"org.opencontainers.image.source": "jenkins-emulator"}},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    })
    .to_string();
    let config_digest = upload(http, registry, &image.repository, config.as_bytes()).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    })
    .to_string();
    let put = http
        .put(format!(
            "{registry}/v2/{}/manifests/{}",
            image.repository, image.tag
        ))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if put.status().as_u16() != 201 {
        let status = put.status();
        let body = put.text().await.unwrap_or_default();
        return Err(format!(
            "the manifest upload answered {status}: {}",
            body.chars().take(200).collect::<String>()
        ));
    }
    let digest = put
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| sha256(manifest.as_bytes()));
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tar_has_a_valid_header_checksum() {
        let t = tar_with("build-info", b"hello");
        assert_eq!(t.len() % 512, 0);
        let stored = u32::from_str_radix(std::str::from_utf8(&t[148..154]).unwrap(), 8).unwrap();
        let mut header = t[..512].to_vec();
        header[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, header.iter().map(|b| u32::from(*b)).sum::<u32>());
        assert_eq!(&t[512..517], b"hello");
    }
}
