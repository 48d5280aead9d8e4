//! A minimal blocking HTTP/1.1 client (one request per connection) for the integration tests and
//! `cargo xtask serve-bench`: loopback only, JSON in, status + body out. No dependency needed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status code and body.
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Body as text.
    pub body: String,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends `method path` with an optional JSON body; `Err` only when the connection fails.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> std::io::Result<Reply> {
    request_as(addr, method, path, body, None)
}

/// [`request`] with `Authorization: Bearer <token>` when a token is given.
pub fn request_as(addr: SocketAddr, method: &str, path: &str, body: Option<&str>, token: Option<&str>) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_nodelay(true)?;
    let body = body.unwrap_or("");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP reply: {:.80}", text)))?;
    let (headers, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = headers.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Ok(Reply { status, body })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `POST` a JSON body.
pub fn post(addr: SocketAddr, path: &str, body: &serde_json::Value) -> std::io::Result<Reply> {
    request(addr, "POST", path, Some(&body.to_string()))
}

/// `POST` with a bearer token (the write routes of a server that has one).
pub fn post_as(addr: SocketAddr, path: &str, body: &serde_json::Value, token: &str) -> std::io::Result<Reply> {
    request_as(addr, "POST", path, Some(&body.to_string()), Some(token))
}

/// `GET` a path.
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    request(addr, "GET", path, None)
}
