use crate::ImageEncoder;
use fuserec_core::{Embeddings, Result};
use image::{DynamicImage, imageops::FilterType};
use rayon::prelude::*;

/// Joint RGB colour histogram (`bins³`) plus a 2×2-cell histogram of gradient orientations
/// (`orientations` unsigned bins, magnitude-weighted). Each block is a distribution, square-rooted
/// (Hellinger), so dot products compare distributions; the whole row is L2-normalised.
#[derive(Clone, Debug)]
pub struct ColorGradientHistogram {
    /// Hue bins of the colour histogram.
    pub bins: usize,
    /// Gradient orientation bins.
    pub orientations: usize,
    /// Images are resized to `side × side` first, so cost does not depend on input size.
    pub side: u32,
}

impl Default for ColorGradientHistogram {
    fn default() -> Self {
        ColorGradientHistogram { bins: 4, orientations: 8, side: 64 }
    }
}

impl ColorGradientHistogram {
    fn color_dim(&self) -> usize {
        self.bins.pow(3)
    }

    fn encode_one(&self, img: &DynamicImage, row: &mut [f32]) {
        let s = self.side;
        let rgb = img.resize_exact(s, s, FilterType::Triangle).to_rgb8();
        let (color, grad) = row.split_at_mut(self.color_dim());
        let b = self.bins;
        for p in rgb.pixels() {
            let q = |v: u8| (v as usize * b) / 256;
            color[(q(p[0]) * b + q(p[1])) * b + q(p[2])] += 1.0;
        }
        let n = s as usize;
        let gray: Vec<f32> = rgb.pixels().map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).collect();
        let at = |x: usize, y: usize| gray[y * n + x];
        let o = self.orientations;
        for y in 1..n - 1 {
            for x in 1..n - 1 {
                let gx =
                    at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2.0 * at(x - 1, y) - at(x - 1, y + 1);
                let gy =
                    at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2.0 * at(x, y - 1) - at(x + 1, y - 1);
                let mag = (gx * gx + gy * gy).sqrt();
                if mag < 1e-3 {
                    continue;
                }
                let theta = gy.atan2(gx).rem_euclid(std::f32::consts::PI);
                let bin = ((theta / std::f32::consts::PI * o as f32) as usize).min(o - 1);
                let cell = (y * 2 / n) * 2 + (x * 2 / n);
                grad[cell * o + bin] += mag;
            }
        }
        for block in [color, grad] {
            let total: f32 = block.iter().sum();
            if total > 0.0 {
                block.iter_mut().for_each(|v| *v = (*v / total).sqrt());
            }
        }
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

impl ImageEncoder for ColorGradientHistogram {
    fn name(&self) -> String {
        format!("color-gradient-hist(bins={},orient={},side={})", self.bins, self.orientations, self.side)
    }
    fn dim(&self) -> usize {
        self.color_dim() + 4 * self.orientations
    }
    fn encode(&self, images: &[DynamicImage]) -> Result<Embeddings> {
        let d = self.dim();
        let mut out = Embeddings::zeros(images.len(), d);
        out.as_mut_slice().par_chunks_mut(d).zip(images.par_iter()).for_each(|(row, img)| self.encode_one(img, row));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::dot;
    use image::{Rgb, RgbImage};

    fn solid(c: [u8; 3]) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_pixel(32, 32, Rgb(c)))
    }

    #[test]
    fn solid_colour_hits_one_bin() {
        let e = ColorGradientHistogram::default();
        let m = e.encode(&[solid([255, 0, 0]), solid([250, 10, 5]), solid([0, 0, 255])]).unwrap();
        assert_eq!(m.dim(), 64 + 32);
        // Red = bin (3,0,0) = 48; a flat image has no gradients, so the colour block is the row.
        assert!((m.row(0)[48] - 1.0).abs() < 1e-6);
        assert!((dot(m.row(0), m.row(1)) - 1.0).abs() < 1e-6);
        assert_eq!(dot(m.row(0), m.row(2)), 0.0);
    }

    #[test]
    fn vertical_edge_goes_to_horizontal_gradient_bin() {
        let mut img = RgbImage::from_pixel(64, 64, Rgb([0, 0, 0]));
        for y in 0..64 {
            for x in 32..64 {
                img.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        let e = ColorGradientHistogram::default();
        let m = e.encode(&[DynamicImage::ImageRgb8(img)]).unwrap();
        let grad = &m.row(0)[64..];
        // Gradient along +x → orientation 0 → bin 0 of each cell; nothing elsewhere.
        let bin0: f32 = (0..4).map(|c| grad[c * 8]).map(|v| v * v).sum();
        let rest: f32 = grad.iter().map(|v| v * v).sum::<f32>() - bin0;
        assert!(bin0 > 0.4 && rest < 1e-6, "{bin0} {rest}");
    }
}
