//! Procedural item images: background hue from the primary topic, a shape (circle, square,
//! triangle, stripes) from the primary topic coloured by the secondary topic, plus noise.

use fuserec_core::Rng;
use image::{Rgb, RgbImage};

pub struct Sketch {
    pub primary: usize,
    pub secondary: usize,
    pub n_topics: usize,
    pub seed: u64,
}

fn hsv(h: f64, s: f64, v: f64) -> [f64; 3] {
    let h = (h.rem_euclid(1.0)) * 6.0;
    let i = h.floor();
    let f = h - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i as u32 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

pub fn draw(s: &Sketch, size: u32) -> RgbImage {
    let mut rng = Rng::new(s.seed);
    let t = s.n_topics as f64;
    let bg = hsv(s.primary as f64 / t + 0.03 * rng.normal(), 0.45 + 0.1 * rng.uniform(), 0.85);
    let fg = hsv(s.secondary as f64 / t + 0.5 / t + 0.03 * rng.normal(), 0.8, 0.55 + 0.3 * rng.uniform());
    let n = size as f64;
    let (cx, cy) = (n * (0.35 + 0.3 * rng.uniform()), n * (0.35 + 0.3 * rng.uniform()));
    let r = n * (0.18 + 0.12 * rng.uniform());
    let shape = s.primary % 4;
    let mut img = RgbImage::new(size, size);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f64 + 0.5, y as f64 + 0.5);
        let (dx, dy) = (fx - cx, fy - cy);
        let inside = match shape {
            0 => dx * dx + dy * dy < r * r,
            1 => dx.abs() < r && dy.abs() < r,
            2 => dy > -r && dy < r && dx.abs() < (dy + r) * 0.6,
            _ => ((fx + fy) / (n / 8.0)).floor() as i64 % 2 == 0,
        };
        let c = if inside { fg } else { bg };
        let noise = 10.0 * rng.normal();
        *px = Rgb(c.map(|v| (v * 255.0 + noise).clamp(0.0, 255.0) as u8));
    }
    img
}
