//! The checks on what an operator writes into the registry that are not about the file's
//! shape: a gateway's name and its base URL; and how a base URL is shown (its host only).

use reqwest::Url;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The longest gateway name `put` accepts.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a gateway name. Gateways report outcomes to `POST /webhooks/{name}`, whose
/// handler takes the raw (still percent-encoded) path segment as the name, so a name must
/// reach it unencoded and unchanged: only URL-unreserved characters (letters, digits, `-`,
/// `_`, `.`, `~`), never `/`, and not a dot segment (`.`, `..`), which clients remove.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters long"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
    {
        return Err(format!(
            "{bad:?} is not allowed: use letters, digits, '-', '_', '.' or '~' (the name is \
             the unencoded last segment of /webhooks/{{gateway}})"
        ));
    }
    if name == "." || name == ".." {
        return Err("must not be a dot segment (\".\" or \"..\")".into());
    }
    Ok(())
}

/// Checks a base URL: absolute `https://`, or `http://` for a loopback host (emulators,
/// simulators); a host; no query or fragment (the connectors append paths to it and refuse
/// both). Messages never quote the URL, which may carry credentials.
pub fn check_base_url(raw: &str) -> Result<Url, String> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    // Exactly these prefixes: the URL standard would also read `https:host` or
    // `https:\\host` as absolute, which is not what anyone meant.
    let plain_http = raw.starts_with("http://");
    if !plain_http && !raw.starts_with("https://") {
        return Err("must be an absolute URL starting with https://".into());
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err("must name a host".into());
    };
    if plain_http && !is_loopback(host) {
        return Err(
            "must use https:// (http:// is only for a loopback host: localhost, 127.0.0.0/8, [::1])"
                .into(),
        );
    }
    if url.query().is_some() {
        return Err("must not carry a query (the connectors append paths to it)".into());
    }
    if url.fragment().is_some() {
        return Err("must not carry a fragment".into());
    }
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .and_then(|h| h.parse::<Ipv6Addr>().ok())
            .is_some_and(|ip| ip.is_loopback())
}

/// A base URL's host and non-default port, nothing else: no credentials, path or query.
pub fn display_host(base_url: &str) -> String {
    match Url::parse(base_url.trim()) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => "(no host)".into(),
        },
        Err(_) => "(not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_never_show_credentials_paths_or_queries() {
        assert_eq!(display_host("https://u:p@psp.example/a?b=c"), "psp.example");
        assert_eq!(display_host("https://psp.example:443/a"), "psp.example");
        assert_eq!(display_host("http://127.0.0.1:9001/x"), "127.0.0.1:9001");
        assert_eq!(display_host("not a url/with?secret"), "(not a URL)");
    }
}
