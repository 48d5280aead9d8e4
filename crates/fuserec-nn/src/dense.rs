use crate::{Dev, T1, T2, V2};
use dfdx::prelude::*;
use fuserec_core::{Error, Result, Rng};

/// A parameter handed to an optimiser or a checkpoint.
pub enum ParamMut<'a> {
    /// A bias or other vector parameter.
    Vector(&'a mut T1),
    /// A weight matrix.
    Matrix(&'a mut T2),
}

/// Something with named trainable parameters. Names are stable: they key optimiser state and
/// checkpoint entries.
pub trait HasParams {
    /// Calls `f` on every parameter with its full name (`prefix.` + local name).
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>));
}

/// Non-linearity between an [`Mlp`]'s layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// No non-linearity (the last layer of a tower).
    Identity,
}

fn activate<T: dfdx::tensor::Tape<f32, Dev>>(a: Activation, x: Tensor<(usize, usize), f32, Dev, T>) -> Tensor<(usize, usize), f32, Dev, T> {
    match a {
        Activation::Relu => x.relu(),
        Activation::Tanh => x.tanh(),
        Activation::Identity => x,
    }
}

/// A `rows × cols` Glorot-uniform matrix for a layer whose fan-in + fan-out is `fan` (a block of a
/// wider layer passes the whole layer's fan), drawn from our own seeded generator.
pub fn glorot(dev: &Dev, rows: usize, cols: usize, fan: usize, rng: &mut Rng) -> T2 {
    let a = (6.0 / fan as f64).sqrt();
    let w: Vec<f32> = (0..rows * cols).map(|_| ((rng.uniform() * 2.0 - 1.0) * a) as f32).collect();
    dev.tensor_from_vec(w, (rows, cols))
}

/// `y = x·W + b` with `W: in × out`.
#[derive(Clone)]
pub struct Dense {
    /// `in × out` weights.
    pub w: T2,
    /// `out` biases.
    pub b: T1,
}

impl Dense {
    /// Glorot-uniform weights from our own seeded generator, zero bias.
    pub fn new(dev: &Dev, inp: usize, out: usize, rng: &mut Rng) -> Self {
        Dense { w: glorot(dev, inp, out, inp + out, rng), b: dev.zeros_like(&(out,)) }
    }
    /// Input width.
    pub fn inp(&self) -> usize {
        self.w.shape().0
    }
    /// Output width.
    pub fn out(&self) -> usize {
        self.w.shape().1
    }
    /// Taped forward pass on `rows × in` inputs.
    pub fn forward(&self, x: V2) -> V2 {
        crate::linear(x, &self.w, &self.b)
    }
    /// Inference without a tape (exporting item vectors).
    pub fn infer(&self, x: T2) -> T2 {
        let y = x.matmul(self.w.clone());
        let b = self.b.clone().broadcast_like::<_, Axis<0>>(&y);
        y + b
    }
}

impl HasParams for Dense {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        f(&format!("{prefix}.w"), ParamMut::Matrix(&mut self.w));
        f(&format!("{prefix}.b"), ParamMut::Vector(&mut self.b));
    }
}

/// Dense layers with `hidden` activations between them and none after the last.
#[derive(Clone)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Dense>,
    /// Activation between layers.
    pub hidden: Activation,
}

impl Mlp {
    /// `widths = [in, h1, …, out]`; at least two entries.
    pub fn new(dev: &Dev, widths: &[usize], hidden: Activation, rng: &mut Rng) -> Result<Self> {
        if widths.len() < 2 || widths.contains(&0) {
            return Err(Error::Config(format!("an MLP needs ≥ 2 non-zero widths, got {widths:?}")));
        }
        Ok(Mlp { layers: widths.windows(2).map(|w| Dense::new(dev, w[0], w[1], rng)).collect(), hidden })
    }
    /// `inp → hidden… → out`, ReLU between layers (the towers' and heads' shape).
    pub fn relu(dev: &Dev, inp: usize, hidden: &[usize], out: usize, rng: &mut Rng) -> Result<Self> {
        let widths: Vec<usize> = std::iter::once(inp).chain(hidden.iter().copied()).chain(std::iter::once(out)).collect();
        Self::new(dev, &widths, Activation::Relu, rng)
    }
    /// Input width.
    pub fn inp(&self) -> usize {
        self.layers[0].inp()
    }
    /// Output width.
    pub fn out(&self) -> usize {
        self.layers.last().expect("non-empty").out()
    }
    /// Taped forward pass (training).
    pub fn forward(&self, mut x: V2) -> V2 {
        let n = self.layers.len();
        for (i, l) in self.layers.iter().enumerate() {
            x = l.forward(x);
            if i + 1 < n {
                x = activate(self.hidden, x);
            }
        }
        x
    }
    /// Untaped forward pass (inference).
    pub fn infer(&self, mut x: T2) -> T2 {
        let n = self.layers.len();
        for (i, l) in self.layers.iter().enumerate() {
            x = l.infer(x);
            if i + 1 < n {
                x = activate(self.hidden, x);
            }
        }
        x
    }
}

impl HasParams for Mlp {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            l.visit_params(&format!("{prefix}.{i}"), f);
        }
    }
}
