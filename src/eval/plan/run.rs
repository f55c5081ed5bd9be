//! Running a [`Plan`]: the kernels over the slots, and the solution they
//! make (values, error terms, gradients, the training), as
//! `solve_from` makes it from the evaluator's passes.

use std::sync::Arc;

use std::collections::HashSet;

use num_rational::BigRational;

use super::{certify, Buffers, Instr, Op, Plan, Reader, Slot, Zip};
use crate::derive::Derivation;
use crate::eval::conv;
use crate::eval::error::Failure;
use crate::eval::evaluate::{Evaluator, Note};
use crate::eval::matmul::float_matmul_strided_into;
use crate::eval::optimize::{self, Steps};
use crate::eval::solve::{ParamStep, Solution, Training, TrainingStep, SMALL_NETWORK};
use crate::eval::tensor::{sigmoid, Data, Tensor};
use crate::eval::watch::{self, MARGIN};
use crate::model::{Complement, Elementwise, Model, Node, PoolKind, PoolPart, TensorId};

/// What a plan's solve came to.
pub enum Outcome {
    /// The f64 solution.
    Solved(Box<Solution>),
    /// An operand came near a kink, or a value failed: the answer is the
    /// exact solution's (as `fast::solve_float` decides).
    Exact,
    /// The plan could not finish (interrupted, or a kernel's result did
    /// not have the shape planned): the node-by-node evaluator decides.
    Unplanned,
}

/// Why a run stopped.
enum Stop {
    Near,
    Failed,
    Interrupted,
    Mismatch,
}

impl Plan {
    /// The solution of `model` (compiled with `derivation`) in f64; see
    /// [`Outcome`].
    pub fn solve(&self, model: &Model, derivation: &Derivation) -> Outcome {
        self.solve_shared(model, &Arc::new(derivation.clone()))
    }

    /// [`Plan::solve`] with the derivation shared with the solution made,
    /// not copied into it (a network solved again keeps one derivation).
    pub fn solve_shared(&self, model: &Model, derivation: &Arc<Derivation>) -> Outcome {
        if self.near {
            return Outcome::Exact;
        }
        let Ok(mut buffers) = self.buffers.try_borrow_mut() else { return Outcome::Unplanned };
        let (solved, near) = watch::watched(|| self.solve_in(&mut buffers, model, derivation));
        match solved {
            Ok(solution) if !near => Outcome::Solved(Box::new(solution)),
            Ok(_) | Err(Stop::Near | Stop::Failed) => Outcome::Exact,
            Err(Stop::Interrupted | Stop::Mismatch) => Outcome::Unplanned,
        }
    }

    fn solve_in(&self, bufs: &mut Buffers, model: &Model, derivation: &Arc<Derivation>) -> Result<Solution, Stop> {
        for (_, slot, data) in &self.inputs {
            bufs.f64s[*slot].copy_from_slice(data);
        }
        let mut ev = Evaluator::new(model, &derivation.graph, Some(derivation), Vec::new());
        // Only this run has the given values in every input's buffer: the
        // runs after a training step do not decide entries exactly.
        bufs.certify = true;
        let first = self.run(bufs, &mut ev, true);
        bufs.certify = false;
        first?;
        let values: Vec<Tensor> = self.values.iter().map(|&s| self.tensor(bufs, s)).collect();
        let symbols = self.symbols.iter().map(|&(id, s)| (id, self.tensor(bufs, s))).collect();
        let gradients: Vec<Tensor> = self.gradients.iter().map(|&s| self.tensor(bufs, s)).collect();
        let mut notes = self.notes.clone();
        notes.extend(crate::eval::solve::unreached_rows(model));
        let training = match &model.train {
            None => None,
            Some(train) => Some(self.train(bufs, &mut ev, model, derivation, train, &values, &gradients, &mut notes)?),
        };
        notes.append(&mut ev.notes);
        notes.sort();
        notes.dedup();
        Ok(Solution {
            derivation: derivation.clone(),
            values,
            symbols,
            gradients,
            training,
            notes,
            general: Vec::new(),
            masks: Vec::new(),
            time_terms: Vec::new(),
            step_values: Vec::new(),
        })
    }

    /// The value in slot `s` as a tensor.
    fn tensor(&self, bufs: &Buffers, s: Slot) -> Tensor {
        match self.slots[s].constant.as_ref().or(bufs.held[s].as_ref()) {
            Some(c) => c.clone(),
            None => Tensor::float(self.slots[s].dims.clone(), bufs.f64s[s].clone()),
        }
    }

    /// The `train` statement, as `solve`'s `train` applies it: each step
    /// updates the parameters by the optimizer's rule (its own code, on
    /// tensors), then the plan runs again at them.
    #[allow(clippy::too_many_arguments)]
    fn train(
        &self,
        bufs: &mut Buffers,
        ev: &mut Evaluator,
        model: &Model,
        derivation: &Derivation,
        train: &crate::model::Train,
        values: &[Tensor],
        gradients: &[Tensor],
        notes: &mut Vec<Note>,
    ) -> Result<Training, Stop> {
        let entries: usize =
            derivation.gradients.iter().map(|g| model.tensor(g.param).shape.dims().iter().product::<usize>()).sum();
        let small = entries <= SMALL_NETWORK;
        let given = |id: TensorId| {
            let (_, slot, data) = self.inputs.iter().find(|(t, _, _)| *t == id)?;
            Some(Tensor::float(self.slots[*slot].dims.clone(), data.clone()))
        };
        let mut losses = vec![values[model.loss.0 as usize].clone()];
        let mut history = Vec::new();
        let mut previous: Vec<Option<Vec<Tensor>>> = derivation
            .gradients
            .iter()
            .zip(gradients)
            .map(|(g, grad)| optimize::initial_state(train, g.param, grad, given))
            .collect();
        // Plain SGD of a large network updates the slots in place, by
        // `optimize::sgd_step`'s f64 rule (w − lr·g, entry by entry).
        let lr = Tensor::scalar_exact(train.lr.clone()).to_f64_vec().first().copied().unwrap_or(f64::NAN);
        let in_place = |k: usize, p: usize| {
            let (slot, grad) = (self.values[p], self.gradients[k]);
            matches!(train.optimizer, crate::model::Optimizer::Sgd)
                && !small
                && self.slots[slot].constant.is_none()
                && self.slots[grad].constant.is_none()
                && self.slots[slot].dims == self.slots[grad].dims
        };
        let mut inexact_noted = false;
        for at in Steps::after(&train.optimizer, train.taken).take(train.steps as usize) {
            let step = at.k - train.taken;
            let mut record = Vec::new();
            for (k, (g, before)) in derivation.gradients.iter().zip(previous.iter_mut()).enumerate() {
                let p = g.param.0 as usize;
                let slot = self.values[p];
                if in_place(k, p) && bufs.held[self.gradients[k]].is_none() {
                    let mut w = std::mem::take(&mut bufs.f64s[slot]);
                    w.iter_mut().zip(&bufs.f64s[self.gradients[k]]).for_each(|(w, g)| *w -= lr * g);
                    bufs.f64s[slot] = w;
                    finite(&bufs.f64s[slot])?;
                    *before = Some(Vec::new());
                    continue;
                }
                // The gradient at the current parameters: the last run's.
                let grad = self.tensor(bufs, self.gradients[k]);
                let old = self.tensor(bufs, slot);
                let update = optimize::update(&train.optimizer, &train.lr, &at, &old, &grad, before.as_deref())
                    .map_err(|_| Stop::Failed)?;
                if let (Some(root), false) = (update.inexact_root, inexact_noted) {
                    inexact_noted = true;
                    notes.push(Note::InexactRoot { optimizer: train.optimizer.name(), root, step });
                }
                let Data::Float(value) = update.value.data() else { return Err(Stop::Mismatch) };
                if self.slots[slot].constant.is_some() || bufs.f64s[slot].len() != value.len() {
                    return Err(Stop::Mismatch);
                }
                bufs.f64s[slot].copy_from_slice(value);
                if small {
                    record.push(ParamStep {
                        param: g.param,
                        gradient: grad,
                        quantities: update.quantities.clone(),
                        value: update.value,
                    });
                }
                *before = Some(update.quantities);
            }
            if small {
                history.push(TrainingStep { params: record });
            }
            self.run(bufs, ev, step < train.steps)?;
            losses.push(self.tensor(bufs, self.values[model.loss.0 as usize]));
        }
        let trained = |p: TensorId| derivation.gradients.iter().any(|g| g.param == p);
        let updated = model
            .params()
            .map(|p| match trained(p) && train.steps > 0 {
                true => (p, self.tensor(bufs, self.values[p.0 as usize])),
                false => (p, values[p.0 as usize].clone()),
            })
            .collect();
        Ok(Training {
            optimizer: train.optimizer.clone(),
            lr: train.lr.clone(),
            steps: train.steps,
            updated,
            losses,
            history,
        })
    }

    /// Runs the forward instructions, and with `backward` the rest.
    fn run(&self, bufs: &mut Buffers, ev: &mut Evaluator, backward: bool) -> Result<(), Stop> {
        let end = if backward { self.instrs.len() } else { self.forward_end };
        bufs.certain.clear();
        bufs.left = certify::RUN_BUDGET;
        for instr in &self.instrs[..end] {
            if crate::eval::cancel::poll() {
                return Err(Stop::Interrupted);
            }
            self.step(instr, bufs, ev)?;
        }
        Ok(())
    }

    fn step(&self, instr: &Instr, buffers: &mut Buffers, ev: &mut Evaluator) -> Result<(), Stop> {
        let Buffers { f64s: bufs, held, certify, certain, left } = buffers;
        let mut out = std::mem::take(&mut bufs[instr.out]);
        match instr.op {
            Op::Zip(kind, a, ra, b, rb) => {
                let (x, y) = (&bufs[a], &bufs[b]);
                match kind {
                    Zip::Add => zip(&mut out, x, ra, y, rb, |p, q| p + q),
                    Zip::Sub => zip(&mut out, x, ra, y, rb, |p, q| p - q),
                    Zip::Mul => zip(&mut out, x, ra, y, rb, |p, q| p * q),
                }
                finite(&out)?;
            }
            Op::Neg(a) => out.iter_mut().zip(&bufs[a]).for_each(|(o, x)| *o = -x),
            Op::Unary(f, a, watched) => {
                let op = f.op();
                for (o, &v) in out.iter_mut().zip(&bufs[a]) {
                    *o = op.float(v, 0.0).map_err(|_| Stop::Failed)?;
                }
                finite(&out)?;
                if watched && bufs[a].iter().any(|v| v.abs() <= MARGIN) {
                    // Each near entry decided exactly and snapped (or the
                    // run stops), then the value again from the snapped
                    // operand: its branch is the exact computation's.
                    self.decide_near(f, a, &mut bufs[a], *certify, (certain, left), ev)?;
                    for (o, &v) in out.iter_mut().zip(&bufs[a]) {
                        *o = op.float(v, 0.0).map_err(|_| Stop::Failed)?;
                    }
                    finite(&out)?;
                    // The evaluator notes step and sign at an exact 0; the
                    // only 0.0 entries here are decided ones (any other is
                    // within MARGIN and stopped the run).
                    if let (Elementwise::Step | Elementwise::Sign, Some(quantity)) = (f, instr.quantity) {
                        let entries: Vec<usize> = (0..bufs[a].len()).filter(|&i| bufs[a][i] == 0.0).collect();
                        if !entries.is_empty() {
                            ev.notes.push(Note::Kink { function: f, quantity, entries });
                        }
                    }
                }
            }
            Op::Complement(u, form) => {
                let f: fn(f64) -> f64 = match form {
                    Complement::OneMinusSigmoid(_) => |x| sigmoid(-x),
                    Complement::OneMinusTanhSquared(_) => crate::eval::stable::sech_squared,
                };
                out.iter_mut().zip(&bufs[u]).for_each(|(o, &x)| *o = f(x));
                finite(&out)?;
            }
            Op::MatMul { a, a_strides, b, m, k, p } => {
                float_matmul_strided_into(&mut out, &bufs[a], a_strides, &bufs[b], m, k, p);
                finite(&out)?;
            }
            Op::Transpose(a, m, n) => {
                let x = &bufs[a];
                for j in 0..n {
                    for i in 0..m {
                        out[j * m + i] = x[i * n + j];
                    }
                }
            }
            Op::Sum(a) => {
                out[0] = bufs[a].iter().sum();
                finite(&out)?;
            }
            Op::Fill(a, plus_zero) => {
                let x = bufs[a][0];
                out.fill(if plus_zero { 0.0 + x } else { x });
                finite(&out)?;
            }
            Op::Kernel(n, ref args) => {
                ev.quantity = instr.quantity;
                // The kernel under its own watch: a max-pool's near windows
                // may be settled exactly (see `settle_pool`), then the
                // kernel runs again on the snapped operand.
                let (computed, near) = watch::watched(|| self.kernel(n, args, bufs, held, ev));
                let mut value = computed?;
                if near {
                    if !(*certify && self.settle_pool(n, args, bufs, held, (certain, left), ev)) {
                        return Err(Stop::Near);
                    }
                    value = watch::watched(|| self.kernel(n, args, bufs, held, ev)).0?;
                }
                if value.dims() != self.slots[instr.out].dims.as_slice() {
                    return Err(Stop::Mismatch);
                }
                match value.data() {
                    Data::Float(_) => {
                        out = value.into_float().unwrap_or_default();
                        held[instr.out] = None;
                    }
                    // An exact value computed from f64 ones (a one-hot of labels).
                    Data::Exact(_) if self.slots[instr.out].maybe_exact => {
                        out.copy_from_slice(&value.float_view());
                        held[instr.out] = Some(value);
                    }
                    _ => return Err(Stop::Mismatch),
                }
            }
        }
        bufs[instr.out] = out;
        Ok(())
    }
}

impl Plan {
    /// The evaluator's kernel for node `n` on its operands' values.
    fn kernel(
        &self,
        n: crate::model::NodeId,
        args: &[Slot],
        bufs: &mut [Vec<f64>],
        held: &[Option<Tensor>],
        ev: &mut Evaluator,
    ) -> Result<Tensor, Stop> {
        // Each f64 operand's buffer is lent to a tensor for the call
        // (moved, not copied: a map of 16 384 entries is 128 kB per
        // call) and taken back after it, whatever the call gave.
        let mut lent: Vec<(Slot, Tensor)> = Vec::with_capacity(args.len());
        for &a in args {
            if self.slots[a].constant.is_none() && held[a].is_none() && lent.iter().all(|(s, _)| *s != a) {
                lent.push((a, Tensor::float(self.slots[a].dims.clone(), std::mem::take(&mut bufs[a]))));
            }
        }
        let refs: Vec<&Tensor> = args
            .iter()
            .filter_map(|&a| match lent.iter().find(|(s, _)| *s == a) {
                Some((_, t)) => Some(t),
                None => self.slots[a].constant.as_ref().or(held[a].as_ref()),
            })
            .collect();
        let computed = ev.compute(n, &refs);
        drop(refs);
        for (a, t) in lent {
            bufs[a] = t.into_float().unwrap_or_default();
        }
        computed.map_err(|e| match e {
            Failure::Interrupted => Stop::Interrupted,
            _ => Stop::Failed,
        })
    }

    /// Decides exactly every entry of slot `a` within MARGIN of the kink of
    /// `f` not decided yet, snapping its buffer entry (see `certify`);
    /// `Stop::Near` when one cannot be decided, or `f` is not a kink at 0
    /// that a snapped operand settles (log and sqrt blow up there).
    fn decide_near(
        &self,
        f: Elementwise,
        a: Slot,
        buf: &mut [f64],
        certify: bool,
        (certain, left): (&mut HashSet<(Slot, usize)>, &mut usize),
        ev: &Evaluator,
    ) -> Result<(), Stop> {
        if !certify || !watch::settled_by_sign(f) {
            return Err(Stop::Near);
        }
        for (i, x) in buf.iter_mut().enumerate() {
            if x.abs() > MARGIN || certain.contains(&(a, i)) {
                continue;
            }
            let exact = self.exact_entry(ev.model, ev.graph, a, i, left).ok_or(Stop::Near)?;
            let snapped = certify::snap(&exact).ok_or(Stop::Near)?;
            if !self.set_decided(a, x, snapped) {
                return Err(Stop::Near);
            }
            certain.insert((a, i));
        }
        Ok(())
    }

    /// Settles the near windows of max-pool forward node `n` (operand slot
    /// `args[0]`): for each window whose two largest f64 entries come within
    /// MARGIN, its candidates (the entries within MARGIN of its largest;
    /// the others are below by more, so below in exact arithmetic too, by
    /// the watch's premise) are decided exactly and snapped; the window is
    /// settled when the f64 first maximum of the snapped window is the
    /// exact first maximum (row-major, `conv::argmax`'s rule). The backward
    /// part picks its argmax again from the same snapped buffer, so it
    /// makes the same choice. False when any window is not settled, or the
    /// node is not a max-pool forward part on an f64 operand.
    fn settle_pool(
        &self,
        n: crate::model::NodeId,
        args: &[Slot],
        bufs: &mut [Vec<f64>],
        held: &[Option<Tensor>],
        (certain, left): (&mut HashSet<(Slot, usize)>, &mut usize),
        ev: &Evaluator,
    ) -> bool {
        let Node::Pool(PoolKind::Max, PoolPart::Forward, operands, window) = ev.graph.node(n) else { return false };
        let Some(&a) = args.first() else { return false };
        if self.slots[a].constant.is_some() || held[a].is_some() {
            return false;
        }
        // A window of zeros of a relu is exact zeros (see `watch`): its
        // first entry wins in both computations, as the watch agrees.
        let exact_zeros = operands.first().is_some_and(|&o| watch::zeros_are_exact(ev.model, ev.graph, o));
        let buf = &mut bufs[a];
        let Ok(windows) = conv::max_pool_near_windows(buf, &self.slots[a].dims, *window, MARGIN) else { return false };
        for cells in windows {
            let top = cells.iter().map(|&p| buf[p]).fold(f64::NEG_INFINITY, f64::max);
            if exact_zeros && top == 0.0 {
                continue;
            }
            let mut best: Option<(usize, BigRational)> = None;
            for &p in &cells {
                if top - buf[p] > MARGIN {
                    continue;
                }
                let Some(exact) = self.exact_entry(ev.model, ev.graph, a, p, left) else { return false };
                let Some(snapped) = certify::snap(&exact) else { return false };
                if !self.set_decided(a, &mut buf[p], snapped) {
                    return false;
                }
                certain.insert((a, p));
                if best.as_ref().is_none_or(|(_, b)| exact > *b) {
                    best = Some((p, exact));
                }
            }
            if best.map(|(p, _)| p) != Some(conv::first_max_f64(buf, &cells)) {
                return false;
            }
        }
        true
    }
}

/// `out[i] = f(x[ra(i)], y[rb(i)])`, equal shapes in one pass the compiler
/// vectorises.
#[inline]
fn zip(out: &mut [f64], x: &[f64], ra: Reader, y: &[f64], rb: Reader, f: impl Fn(f64, f64) -> f64) {
    match (ra, rb) {
        (Reader::Same, Reader::Same) => out.iter_mut().zip(x.iter().zip(y)).for_each(|(o, (p, q))| *o = f(*p, *q)),
        (Reader::Same, Reader::One) => out.iter_mut().zip(x).for_each(|(o, p)| *o = f(*p, y[0])),
        (Reader::One, Reader::Same) => out.iter_mut().zip(y).for_each(|(o, q)| *o = f(x[0], *q)),
        _ => out.iter_mut().enumerate().for_each(|(i, o)| *o = f(x[ra.index(i)], y[rb.index(i)])),
    }
}

/// Every entry finite, as `Tensor::float_checked` requires.
fn finite(v: &[f64]) -> Result<(), Stop> {
    match v.iter().all(|x| x.is_finite()) {
        true => Ok(()),
        false => Err(Stop::Failed),
    }
}
