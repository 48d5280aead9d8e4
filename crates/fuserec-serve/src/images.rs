//! Images from clients: bytes (base64) by default; a path only under a configured image root,
//! and only to a regular file within the size cap. Decoding runs with pixel and memory limits.
//! Error texts name what the client sent, never a resolved server path.

use crate::app::Refusal;
use crate::limits::Limits;
use std::io::Read;
use std::path::Path;

/// Decodes image bytes within `limits` (size, sides, decoder memory).
pub fn decode(bytes: &[u8], limits: &Limits, what: &str) -> Result<image::DynamicImage, Refusal> {
    if bytes.len() > limits.max_image_bytes {
        return Err(Refusal::Bad(format!("{what}: {} bytes, the limit is {}", bytes.len(), limits.max_image_bytes)));
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Refusal::Bad(format!("{what}: cannot read: {e}")))?;
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_image_side);
    l.max_image_height = Some(limits.max_image_side);
    l.max_alloc = Some(limits.max_decode_bytes);
    reader.limits(l);
    let img = reader.decode().map_err(|e| Refusal::Bad(format!("{what} cannot be decoded: {e}")))?;
    if img.width() == 0 || img.height() == 0 {
        return Err(Refusal::Bad(format!("{what}: zero-sized image")));
    }
    Ok(img)
}

/// Reads `rel` under `root` (both resolved through symlinks; the file must stay under the root),
/// refusing anything but a regular file no larger than the cap: no devices, FIFOs, directories.
pub fn read_under(root: Option<&Path>, rel: &str, limits: &Limits) -> Result<image::DynamicImage, Refusal> {
    let root =
        root.ok_or_else(|| Refusal::Bad("image_path is not accepted by this server (no image root configured): send image_base64".into()))?;
    let what = format!("image_path `{rel}`");
    let not_found = || Refusal::Bad(format!("{what}: no such file under the image root"));
    let rel_path = Path::new(rel);
    if rel.is_empty() || rel_path.is_absolute() || rel.contains('\0') {
        return Err(Refusal::Bad(format!("{what}: must be a relative path under the image root")));
    }
    let root = root.canonicalize().map_err(|_| Refusal::Internal("the image root cannot be resolved".into()))?;
    let path = root.join(rel_path).canonicalize().map_err(|_| not_found())?;
    if !path.starts_with(&root) {
        return Err(not_found());
    }
    let meta = std::fs::metadata(&path).map_err(|_| not_found())?;
    if !meta.is_file() {
        return Err(Refusal::Bad(format!("{what}: not a regular file")));
    }
    if meta.len() > limits.max_image_bytes as u64 {
        return Err(Refusal::Bad(format!("{what}: {} bytes, the limit is {}", meta.len(), limits.max_image_bytes)));
    }
    // The file may grow between the check and the read: read at most one byte past the cap.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(&path)
        .and_then(|f| f.take(limits.max_image_bytes as u64 + 1).read_to_end(&mut bytes))
        .map_err(|_| Refusal::Bad(format!("{what}: cannot be read")))?;
    decode(&bytes, limits, &what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn msg(r: Result<image::DynamicImage, Refusal>) -> String {
        match r {
            Err(Refusal::Bad(m)) => m,
            Err(other) => panic!("expected a 400, got {other:?}"),
            Ok(_) => panic!("expected a refusal"),
        }
    }

    #[test]
    fn only_regular_files_under_the_root_within_the_caps() {
        let base = std::env::temp_dir().join(format!("fuserec-images-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/ok.png"), png(4, 3)).unwrap();
        std::fs::write(base.join("outside.png"), png(4, 3)).unwrap();
        std::fs::write(root.join("big.png"), vec![0u8; 2000]).unwrap();
        std::os::unix::fs::symlink(base.join("outside.png"), root.join("link.png")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero")).unwrap();
        let fifo = root.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let limits = Limits { max_image_bytes: 1000, ..Limits::default() };
        let r = Some(root.as_path());

        let img = read_under(r, "sub/ok.png", &limits).unwrap();
        assert_eq!((img.width(), img.height()), (4, 3));
        assert!(msg(read_under(None, "sub/ok.png", &limits)).contains("no image root"));
        for (rel, want) in [
            ("../outside.png", "no such file under the image root"),
            ("link.png", "no such file under the image root"),
            ("zero", "no such file under the image root"),
            ("/dev/zero", "relative path"),
            ("/etc/passwd", "relative path"),
            ("missing.png", "no such file"),
            ("sub", "not a regular file"),
            ("fifo", "not a regular file"),
            ("big.png", "the limit is 1000"),
            ("", "relative path"),
        ] {
            let m = msg(read_under(r, rel, &limits));
            assert!(m.contains(want), "{rel}: {m}");
            assert!(!m.contains(base.to_str().unwrap()), "{rel}: the message reveals a server path: {m}");
        }
        // Decoding limits: a picture wider than the cap, and junk bytes.
        let wide = png(300, 2);
        assert!(msg(decode(&wide, &Limits { max_image_side: 100, ..Limits::default() }, "x")).contains("cannot be decoded"));
        assert!(decode(&wide, &Limits::default(), "x").is_ok());
        assert!(msg(decode(b"not an image", &Limits::default(), "x")).contains("x"));
        let _ = std::fs::remove_dir_all(&base);
    }
}
