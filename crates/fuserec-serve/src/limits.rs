//! What a client may ask of the server: sizes, counts and times, all configurable, with
//! defaults safe to expose. Every limit a request crosses is a 4xx (or 503) naming the limit.

use std::time::Duration;

/// Request limits; the defaults are safe to expose.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body (413 above).
    pub max_body_bytes: usize,
    /// Largest `k` a recall request may ask for.
    pub max_k: usize,
    /// Most item ids in one recall request (each is a store read).
    pub max_items_per_request: usize,
    /// Largest image file or decoded base64 payload.
    pub max_image_bytes: usize,
    /// Largest image width and height in pixels.
    pub max_image_side: u32,
    /// Most memory the image decoder may allocate.
    pub max_decode_bytes: u64,
    /// A request not answered within this is answered 503 (its work may still finish).
    pub request_timeout: Duration,
    /// Requests in flight beyond this are answered 503 at once.
    pub max_concurrent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8_000_000,
            max_k: 1000,
            max_items_per_request: 512,
            max_image_bytes: 5_000_000,
            max_image_side: 8192,
            max_decode_bytes: 256 << 20,
            request_timeout: Duration::from_secs(30),
            max_concurrent: 64,
        }
    }
}
