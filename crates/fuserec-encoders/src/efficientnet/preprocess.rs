use image::{DynamicImage, imageops::FilterType};

/// Shorter side after resizing, in pixels.
pub const RESIZE: u32 = 256;
/// Side of the centre crop the network sees, in pixels.
pub const CROP: u32 = 224;

/// Shorter side to 256 (bicubic), centre crop 224, `(x − 127) / 128` on 0–255 RGB; CHW f32.
pub fn preprocess(img: &DynamicImage) -> Vec<f32> {
    let (w, h) = (img.width().max(1), img.height().max(1));
    let (nw, nh) = if w <= h {
        (RESIZE, ((h as f64 * RESIZE as f64 / w as f64).round() as u32).max(RESIZE))
    } else {
        (((w as f64 * RESIZE as f64 / h as f64).round() as u32).max(RESIZE), RESIZE)
    };
    let rgb = img.resize_exact(nw, nh, FilterType::CatmullRom).to_rgb8();
    let (x0, y0) = ((nw - CROP) / 2, (nh - CROP) / 2);
    let n = (CROP * CROP) as usize;
    let mut out = vec![0f32; 3 * n];
    for y in 0..CROP {
        for x in 0..CROP {
            let p = rgb.get_pixel(x0 + x, y0 + y);
            let i = (y * CROP + x) as usize;
            for c in 0..3 {
                out[c * n + i] = (p[c] as f32 - 127.0) / 128.0;
            }
        }
    }
    out
}
