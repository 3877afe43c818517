//! The pure rules of the file server: which file a request path names, and its content type.
//! Plain Rust (no Spin), unit-tested natively with `cargo test -p web`.

/// Why a request path names no servable file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// A `..` segment (plain or percent-encoded): refused, never resolved.
    Traversal,
    /// Not a usable path: bad percent-encoding, not UTF-8, a NUL or a backslash.
    Invalid,
}

/// The file a request path names, as an absolute path under the mounted root (`/`).
///
/// The path (without its query) is percent-decoded once and then split on `/`; empty and `.`
/// segments are dropped, any `..` segment is refused. `/` and paths ending in `/` name the
/// directory's `index.html`.
pub fn normalize(raw: &str) -> Result<String, PathError> {
    let raw = raw.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode(raw).ok_or(PathError::Invalid)?;
    if decoded.contains(['\0', '\\']) {
        return Err(PathError::Invalid);
    }
    let mut parts = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(PathError::Traversal),
            s => parts.push(s),
        }
    }
    let names_directory = parts.is_empty() || decoded.ends_with('/') || decoded.ends_with("/.");
    let mut path = String::with_capacity(decoded.len() + 11);
    for part in &parts {
        path.push('/');
        path.push_str(part);
    }
    if names_directory {
        path.push_str("/index.html");
    }
    Ok(path)
}

/// The `Content-Type` of a file, from its extension (case-insensitive).
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => String::new(),
    };
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
/// (`+` stays `+`: it means a space only in query strings.)
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_directories_serve_their_index() {
        assert_eq!(normalize("/").unwrap(), "/index.html");
        assert_eq!(normalize("").unwrap(), "/index.html");
        assert_eq!(normalize("/?x=1").unwrap(), "/index.html");
        assert_eq!(normalize("/img/").unwrap(), "/img/index.html");
        assert_eq!(normalize("/img/.").unwrap(), "/img/index.html");
    }

    #[test]
    fn files_keep_their_path() {
        assert_eq!(normalize("/app.js").unwrap(), "/app.js");
        assert_eq!(normalize("/style.css?v=2").unwrap(), "/style.css");
        assert_eq!(normalize("//img//./a.png").unwrap(), "/img/a.png");
        assert_eq!(normalize("/a%20b.txt").unwrap(), "/a b.txt");
        assert_eq!(normalize("/a+b.txt").unwrap(), "/a+b.txt");
    }

    #[test]
    fn traversal_is_refused_plain_or_encoded() {
        for raw in [
            "/..",
            "/../etc/passwd",
            "/img/../../x",
            "/img/..",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/x",
            "/%2e./x",
            "/img%2f..%2fx",
            "/img%2F%2E%2E%2Fx",
        ] {
            assert_eq!(normalize(raw), Err(PathError::Traversal), "{raw}");
        }
    }

    #[test]
    fn malformed_paths_are_invalid() {
        for raw in ["/%zz", "/%2", "/%", "/a%00b", "/..%5cx", "/a\\b", "/%ff"] {
            assert_eq!(normalize(raw), Err(PathError::Invalid), "{raw}");
        }
    }

    #[test]
    fn dots_inside_names_are_fine() {
        assert_eq!(normalize("/a..b.js").unwrap(), "/a..b.js");
        assert_eq!(normalize("/...").unwrap(), "/...");
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("/style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("/img/logo.SVG"), "image/svg+xml");
        assert_eq!(content_type("/img/COFFEE_BLACK.png"), "image/png");
        assert_eq!(content_type("/data.json"), "application/json");
        assert_eq!(content_type("/README"), "application/octet-stream");
        assert_eq!(content_type("/v1.0/file"), "application/octet-stream");
        assert_eq!(content_type("/archive.tar.gz"), "application/octet-stream");
    }
}
