//! The checker: AST in, [`Model`] out, or every independent error found,
//! in file order. A statement that fails is marked, and a statement that uses
//! a marked one is skipped without a message of its own, so one mistake is
//! reported once, not again at every use.

use std::collections::{HashMap, HashSet};

mod layers;
mod maps;

use indexmap::IndexMap;
use num_rational::BigRational;
use num_traits::Zero;

use super::draw;
use super::error::{Error, ErrorKind, Errors, Operand, MAX_ENTRIES};
use super::expr::{Graph, NodeId, TensorId};
use super::func::{Axis, Builtin, Conv, ConvPart, FnId, Func, LossFn, PoolPart, Reduction};
use super::ops::map::{Conv2d, MapOp, Pool};
use super::optimizer::{self, Range};
use super::shape::{LayerShapeError, Shape};
use super::train_state;
use super::{Batch, Function, Model, NamedTensor, Optimizer, Role, Train};
use crate::diagnostic::suggest;
use crate::syntax::ast::{self, BinOp, ExprKind, Item, Literal};
use crate::syntax::expr_text;
use crate::syntax::Span;

mod subscript;
mod window;
mod axes;

/// The most training steps a file may ask for.
pub const MAX_STEPS: u32 = 10_000;

/// Checks a parsed file and builds its model; a file with `steps t = …`
/// is unrolled first ([`super::time`]), and its model keeps the timeline.
/// Unrolling stops at its first error; the checks after it report every
/// independent error (see [`Errors`]).
#[path = "orient.rs"]
mod orient;

pub fn check(file: &ast::File) -> Result<Model, Errors> {
    if file.items.is_empty() {
        return Err(Error { kind: Box::new(ErrorKind::EmptyFile), span: None }.into());
    }
    let alike = super::alike::prints_alike(file);
    let checked = match super::time::unroll(file) {
        Ok(Some((unrolled, timeline))) => {
            check_unrolled(&unrolled).map(|model| Model { time: Some(timeline), ..model })
        }
        Ok(None) => check_unrolled(file),
        Err(e) => Err(e.into()),
    };
    if alike.is_empty() {
        return checked.map(super::preact::name_pre_activations).and_then(axes::name_axes);
    }
    // Names that print alike are independent of every other error.
    let mut errors = checked.err().unwrap_or_default();
    alike.into_iter().for_each(|e| errors.push(e));
    Err(errors)
}

/// Checks a file without time indices.
fn check_unrolled(file: &ast::File) -> Result<Model, Errors> {
    if file.items.is_empty() {
        return Err(Error { kind: Box::new(ErrorKind::EmptyFile), span: None }.into());
    }
    let mut checker = Checker::default();
    checker.layout_statement(file);
    checker.declare(file);
    checker.functions(file);
    let mut order = checker.order_equations();
    for &id in &order {
        checker.current = Some(id);
        checker.build_equation(id);
    }
    checker.place_written_out(&mut order);
    let loss = checker.loss(file);
    let train = checker.train(file).unwrap_or_else(|e| {
        checker.report(e);
        None
    });
    let Checker { graph, tensors, functions, errors, batch, norms, written_out, .. } = checker;
    let loss = match loss {
        Some(loss) if errors.is_empty() => loss,
        _ if errors.is_empty() => return Err(Error::at(ErrorKind::NoLoss, None).into()),
        _ => return Err(errors),
    };
    let introduced = Default::default();
    let axes = Vec::new();
    let model = Model {
        graph,
        tensors,
        functions,
        order,
        loss,
        train,
        time: None,
        batch,
        norms,
        written_out,
        introduced,
        axes,
    };
    if model.params().next().is_some() && !depends_on_param(&model, loss) {
        return Err(Error::new(ErrorKind::LossIgnoresParams, model.tensor(loss).span).into());
    }
    Ok(model)
}

#[derive(Default)]
struct Checker<'a> {
    graph: Graph,
    tensors: IndexMap<String, NamedTensor>,
    functions: IndexMap<String, Function>,
    /// The right-hand sides of equations, until they are built, in file order.
    equations: IndexMap<TensorId, &'a ast::Expr>,
    /// Every tensor each equation names, found while ordering them.
    uses: HashMap<TensorId, Vec<TensorId>>,
    /// Spans of function names, for duplicate errors, in file order.
    fn_spans: IndexMap<String, Span>,
    /// The first sign that the network works on a batch of examples.
    batch: Option<Batch>,
    /// Declarations and equations that failed: whatever uses them is skipped
    /// silently, its operand's error already said.
    failed: HashSet<TensorId>,
    /// Functions that failed, likewise.
    failed_fns: HashSet<String>,
    /// Every error so far, in file order.
    errors: Errors,
    /// The layout a `layout rows` or `layout columns` statement states (see `orient`).
    layout: Option<ast::Layout>,
    /// The equation being built.
    current: Option<TensorId>,
    /// Equations a layer wrote out (μ, σ², x̂ of a normalization), each
    /// with the equation whose right-hand side called the layer.
    written_out: Vec<(TensorId, TensorId)>,
    /// The normalization layers, as written out.
    norms: Vec<super::norm::NormLayer>,
}

/// Where names in an expression are looked up.
enum Scope<'s> {
    /// An equation: names are tensors.
    Equation,
    /// The body of function `name`: names are its parameters.
    Function { name: &'s str, params: &'s [String] },
}

impl<'a> Checker<'a> {
    fn report(&mut self, error: Error) {
        self.errors.push(error);
    }

    /// Collects every declared tensor and equation name, in file order. A
    /// declaration with bad dims is still declared (so its uses are not
    /// unknown names), and marked failed.
    fn declare(&mut self, file: &'a ast::File) {
        for item in &file.items {
            match item {
                Item::Tensor(decl) => {
                    let (shape, dims_ok) = match dims_shape(decl) {
                        Ok(shape) => (shape, true),
                        Err(e) => {
                            self.report(e);
                            (Shape::scalar(), false)
                        }
                    };
                    // A value of the wrong shape is reported; the declared
                    // shape still holds for the equations that use it.
                    let value = match &decl.value {
                        Some(lit) if dims_ok => literal_values(lit, &shape).map_err(|e| self.report(e)).ok(),
                        _ => None,
                    };
                    let draw = decl.draw.as_ref().and_then(|d| {
                        draw::check(d, &decl.name.name, &shape, value.is_some()).map_err(|e| self.report(e)).ok()
                    });
                    let role = match decl.role {
                        ast::Role::Input => Role::Input,
                        ast::Role::Target => Role::Target,
                        ast::Role::Param => Role::Param,
                        ast::Role::Const => Role::Const,
                    };
                    let added = self.add_tensor(
                        &decl.name,
                        NamedTensor {
                            name: decl.name.name.clone(),
                            role,
                            shape,
                            value,
                            definition: None,
                            draw,
                            span: decl.span,
                        },
                    );
                    match added {
                        Ok(id) if !dims_ok => {
                            self.failed.insert(id);
                        }
                        Ok(_) => {}
                        Err(e) => self.report(e),
                    }
                }
                Item::Equation(eq) | Item::Loss(eq) => {
                    let role = if matches!(item, Item::Loss(_)) { Role::Loss } else { Role::Intermediate };
                    let added = self.add_tensor(
                        &eq.name,
                        NamedTensor {
                            name: eq.name.name.clone(),
                            role,
                            shape: Shape::scalar(),
                            value: None,
                            definition: None,
                            draw: None,
                            span: eq.span,
                        },
                    );
                    match added {
                        Ok(id) => {
                            self.equations.insert(id, &eq.value);
                        }
                        Err(e) => self.report(e),
                    }
                }
                Item::Function(f) => {
                    if let Some(first) = self.fn_spans.get(&f.name.name) {
                        let kind = ErrorKind::Duplicate { name: f.name.name.clone(), first: *first };
                        self.report(Error::new(kind, f.name.span));
                        continue;
                    }
                    self.fn_spans.insert(f.name.name.clone(), f.name.span);
                }
                Item::Train(_) | Item::Steps(_) | Item::Layout(_) => {}
            }
        }
        let mut clashes = Vec::new();
        for (name, span) in &self.fn_spans {
            if let Some(t) = self.tensors.get(name) {
                let (first, again) = if t.span.start < span.start { (t.span, *span) } else { (*span, t.span) };
                clashes.push(Error::new(ErrorKind::Duplicate { name: name.clone(), first }, again));
            }
        }
        clashes.into_iter().for_each(|e| self.report(e));
    }

    fn add_tensor(&mut self, name: &ast::Ident, tensor: NamedTensor) -> Result<TensorId, Error> {
        if let Some(first) = self.tensors.get(&name.name) {
            return Err(Error::new(ErrorKind::Duplicate { name: name.name.clone(), first: first.span }, name.span));
        }
        let (index, _) = self.tensors.insert_full(name.name.clone(), tensor);
        Ok(TensorId(index as u32))
    }

    /// Checks and builds every `fn`, in file order; one that fails, or
    /// calls one that failed, is left out and marked.
    fn functions(&mut self, file: &ast::File) {
        for item in &file.items {
            let Item::Function(f) = item else { continue };
            // A second `fn` of one name was reported by `declare`.
            if self.fn_spans.get(&f.name.name) != Some(&f.name.span) {
                continue;
            }
            if let Err(e) = self.function(f) {
                // A `fn` named like a built-in leaves the built-in to its callers.
                if Builtin::lookup(&f.name.name).is_none() {
                    self.failed_fns.insert(f.name.name.clone());
                }
                self.report(e);
            }
        }
    }

    fn function(&mut self, f: &ast::FnDef) -> Result<(), Error> {
        if Builtin::lookup(&f.name.name).is_some() {
            return Err(Error::new(ErrorKind::ShadowsBuiltin { name: f.name.name.clone() }, f.name.span));
        }
        let mut params: Vec<String> = Vec::new();
        for p in &f.params {
            if let Some(j) = params.iter().position(|q| *q == p.name) {
                return Err(Error::new(
                    ErrorKind::DuplicateParam { name: p.name.clone(), first: f.params[j].span },
                    p.span,
                ));
            }
            params.push(p.name.clone());
        }
        if self.calls_failed_fn(&f.body) {
            self.failed_fns.insert(f.name.name.clone());
            return Ok(());
        }
        let body = self.build(&f.body, &Scope::Function { name: &f.name.name, params: &params })?;
        self.functions.insert(f.name.name.clone(), Function { name: f.name.name.clone(), params, body, span: f.span });
        Ok(())
    }

    /// Does `expr` call a function that failed?
    fn calls_failed_fn(&self, expr: &ast::Expr) -> bool {
        if self.failed_fns.is_empty() {
            return false;
        }
        // The parser bounds the nesting (`syntax::MAX_DEPTH`), so this stack stays small.
        let mut stack = vec![expr];
        while let Some(e) = stack.pop() {
            match &e.kind {
                ExprKind::Number(_) | ExprKind::Name(_) => {}
                ExprKind::Neg(a) | ExprKind::Transpose(a) | ExprKind::Paren(a) => stack.push(a),
                ExprKind::Binary { lhs, rhs, .. } => stack.extend([&**lhs, &**rhs]),
                ExprKind::Call { func, args, .. } => {
                    if self.failed_fns.contains(&func.name) {
                        return true;
                    }
                    stack.extend(args);
                }
                ExprKind::Indexed { .. } | ExprKind::Over { .. } | ExprKind::Sliced { .. } | ExprKind::List(_) => {}
            }
        }
        false
    }

    /// Orders equations so that each comes after the ones it uses (file
    /// order where there is a choice), and reports unknown names and cycles;
    /// an equation with either is marked failed.
    fn order_equations(&mut self) -> Vec<TensorId> {
        let mut deps: HashMap<TensorId, Vec<TensorId>> = HashMap::new();
        let equations = std::mem::take(&mut self.equations);
        for (&id, expr) in &equations {
            let mut names = Vec::new();
            if !self.names_in(expr, &mut names) {
                self.failed.insert(id);
            }
            deps.insert(id, names.iter().copied().filter(|d| equations.contains_key(d)).collect());
            self.uses.insert(id, names);
        }
        self.equations = equations;
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let mut mark: HashMap<TensorId, Mark> = self.equations.keys().map(|&k| (k, Mark::New)).collect();
        let mut order = Vec::new();
        // The equations in file order; not the file's equation statements, of
        // which one named like a declared tensor was never added.
        let roots: Vec<TensorId> = self.equations.keys().copied().collect();
        for root in roots {
            if mark[&root] != Mark::New {
                continue;
            }
            // Iterative depth-first search; the stack holds the open path.
            let mut stack: Vec<(TensorId, usize)> = vec![(root, 0)];
            mark.insert(root, Mark::Open);
            while let Some(&mut (id, ref mut next)) = stack.last_mut() {
                let ds = &deps[&id];
                if *next < ds.len() {
                    let d = ds[*next];
                    *next += 1;
                    match mark[&d] {
                        Mark::New => {
                            mark.insert(d, Mark::Open);
                            stack.push((d, 0));
                        }
                        Mark::Open => {
                            // Reported once, the equations on it marked; the
                            // search goes on past the edge that closes it.
                            let start = stack.iter().position(|(s, _)| *s == d).unwrap_or(0);
                            let names =
                                stack[start..].iter().map(|(s, _)| self.tensors[s.0 as usize].name.clone()).collect();
                            self.failed.extend(stack[start..].iter().map(|(s, _)| *s));
                            let error = Error::new(ErrorKind::Cycle { names }, self.tensors[d.0 as usize].span);
                            self.report(error);
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark.insert(id, Mark::Done);
                    order.push(id);
                    stack.pop();
                }
            }
        }
        order
    }

    /// Every tensor named in `expr`, in `out`; each name that is not one is
    /// reported (all of them: they are independent), and makes it false.
    fn names_in(&mut self, expr: &ast::Expr, out: &mut Vec<TensorId>) -> bool {
        let error = match &expr.kind {
            // A list's entries are numbers (a pooling window), read by the call.
            ExprKind::Number(_) | ExprKind::List(_) => return true,
            ExprKind::Name(n) => match self.lookup_tensor(n) {
                Ok(id) => {
                    out.push(id);
                    return true;
                }
                Err(e) => e,
            },
            ExprKind::Neg(e) | ExprKind::Transpose(e) | ExprKind::Paren(e) => return self.names_in(e, out),
            ExprKind::Binary { op: BinOp::Pow, op_span, lhs, rhs } if matches!(&rhs.kind, ExprKind::Name(n) if n.name == "T" && !self.tensors.contains_key("T")) =>
            {
                let kind = ErrorKind::TransposeAsPower { base: expr_text(lhs) };
                Error::new(kind, op_span.to(rhs.span))
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                let left = self.names_in(lhs, out);
                return self.names_in(rhs, out) && left;
            }
            ExprKind::Call { args, .. } => {
                // Every argument, not only up to the first that fails.
                let mut ok = true;
                for a in args {
                    ok &= self.names_in(a, out);
                }
                return ok;
            }
            ExprKind::Sliced { name, .. } => match self.lookup_tensor(name) {
                Ok(id) => {
                    out.push(id);
                    return true;
                }
                Err(e) => e,
            },
            // `W[x]` with `x` a declared tensor: an embedding lookup.
            ExprKind::Indexed { name, index } if self.lookup_ids(index).is_some() => {
                let ids = self.lookup_ids(index).unwrap_or(TensorId(0));
                out.push(ids);
                match self.lookup_tensor(name) {
                    Ok(id) => {
                        out.push(id);
                        return true;
                    }
                    Err(e) => e,
                }
            }
            // Unrolled away before checking (`time::unroll`), or refused there.
            ExprKind::Indexed { .. } | ExprKind::Over { .. } => Error::new(ErrorKind::NoSteps, expr.span),
        };
        self.report(error);
        false
    }

    fn lookup_tensor(&self, n: &ast::Ident) -> Result<TensorId, Error> {
        if let Some(i) = self.tensors.get_index_of(&n.name) {
            return Ok(TensorId(i as u32));
        }
        if self.fn_spans.contains_key(&n.name) || Builtin::lookup(&n.name).is_some() {
            return Err(Error::new(ErrorKind::FunctionAsValue { name: n.name.clone() }, n.span));
        }
        // The "did you mean" compares with every tensor: not for an error past the ones reported.
        let suggestion = match self.errors.keeps(Some(n.span)) {
            true => suggest(&n.name, self.tensors.keys().map(String::as_str)),
            false => None,
        };
        Err(Error::new(ErrorKind::UnknownName { name: n.name.clone(), suggestion }, n.span))
    }

    /// Builds equation `id`, unless it or a tensor or function it uses
    /// failed; a failure is reported and marks it.
    fn build_equation(&mut self, id: TensorId) {
        let expr = self.equations[&id];
        let uses_failed = self.uses.get(&id).is_some_and(|uses| uses.iter().any(|u| self.failed.contains(u)));
        if self.failed.contains(&id) || uses_failed || self.calls_failed_fn(expr) {
            self.failed.insert(id);
            return;
        }
        match self.build(expr, &Scope::Equation) {
            Ok(node) => {
                let shape = self.graph.shape(node).clone();
                let t = &mut self.tensors[id.0 as usize];
                t.shape = shape;
                t.definition = Some(node);
            }
            Err(e) => {
                self.failed.insert(id);
                self.report(e);
            }
        }
    }

    /// Builds `expr` into the graph, refusing a result with more entries
    /// than a tensor may hold (`x @ x.T` of a long `x`).
    fn build(&mut self, expr: &ast::Expr, scope: &Scope) -> Result<NodeId, Error> {
        let node = self.build_node(expr, scope)?;
        let entries = self.graph.shape(node).len();
        if entries > MAX_ENTRIES {
            return Err(Error::new(ErrorKind::TooLarge { entries: entries as u128, limit: MAX_ENTRIES }, expr.span));
        }
        Ok(node)
    }

    fn build_node(&mut self, expr: &ast::Expr, scope: &Scope) -> Result<NodeId, Error> {
        let g = &mut self.graph;
        match &expr.kind {
            ExprKind::Number(n) => Ok(g.constant(n.value.clone())),
            // Lists parse only as a call's arguments, which the call reads.
            ExprKind::List(_) => Err(window::list_not_allowed("a value".into(), expr)),
            ExprKind::Paren(e) => self.build(e, scope),
            ExprKind::Name(n) => match scope {
                Scope::Equation => {
                    let id = self.lookup_tensor(n)?;
                    let shape = self.tensors[id.0 as usize].shape.clone();
                    Ok(self.graph.tensor(id, shape))
                }
                Scope::Function { name, params, .. } => match params.iter().position(|p| *p == n.name) {
                    Some(i) => Ok(self.graph.param(i as u32)),
                    None => Err(Error::new(
                        ErrorKind::FnUsesTensor { func: name.to_string(), name: n.name.clone() },
                        n.span,
                    )),
                },
            },
            ExprKind::Neg(e) => {
                let a = self.build(e, scope)?;
                Ok(self.graph.neg(a))
            }
            ExprKind::Transpose(e) => {
                let a = self.build(e, scope)?;
                if self.graph.shape(a).transpose().is_none() {
                    let shape = self.graph.shape(a).clone();
                    return Err(Error::new(
                        ErrorKind::WrongRank { what: "transpose (.T)".into(), shape, expected: "a vector or a matrix" },
                        expr.span,
                    ));
                }
                Ok(self.graph.transpose(a))
            }
            ExprKind::Binary { op, op_span, lhs, rhs } => {
                let a = self.build(lhs, scope)?;
                let b = self.build(rhs, scope)?;
                self.binary(*op, *op_span, (a, lhs), (b, rhs))
            }
            ExprKind::Sliced { name, axes, span } if matches!(scope, Scope::Equation) => self.sliced(name, axes, *span),
            ExprKind::Indexed { name, index }
                if matches!(scope, Scope::Equation) && self.lookup_ids(index).is_some() =>
            {
                self.lookup(name, index, expr.span)
            }
            ExprKind::Sliced { name, .. } => match scope {
                Scope::Function { name: func, .. } => Err(Error::new(
                    ErrorKind::FnUsesTensor { func: func.to_string(), name: name.name.clone() },
                    name.span,
                )),
                Scope::Equation => Err(Error::new(ErrorKind::NoSteps, expr.span)),
            },
            ExprKind::Indexed { .. } | ExprKind::Over { .. } => Err(Error::new(ErrorKind::NoSteps, expr.span)),
            ExprKind::Call { func, args, keywords } => {
                let mut built = Vec::with_capacity(args.len());
                let pool = matches!(Builtin::lookup(&func.name), Some(Builtin::Pool(_)));
                for (position, a) in args.iter().enumerate() {
                    if pool && window::is_window_list(position, a) {
                        // A stand-in, as a number window builds its constant:
                        // the window is read from the expression itself.
                        built.push(self.graph.constant(BigRational::zero()));
                        continue;
                    }
                    if matches!(a.kind, ExprKind::List(_)) {
                        return Err(window::list_not_allowed(format!("argument {} of {}", position + 1, func.name), a));
                    }
                    built.push(self.build(a, scope)?);
                }
                self.call(func, args, keywords, built, expr.span, scope)
            }
        }
    }

    fn operand(&self, node: NodeId, expr: &ast::Expr) -> Operand {
        let mut e = expr;
        while let ExprKind::Paren(inner) = &e.kind {
            e = inner;
        }
        let name = match &e.kind {
            ExprKind::Name(n) => Some(n.name.clone()),
            _ => None,
        };
        Operand { name, shape: self.graph.shape(node).clone(), span: expr.span }
    }

    fn binary(
        &mut self,
        op: BinOp,
        op_span: Span,
        (a, lhs): (NodeId, &ast::Expr),
        (b, rhs): (NodeId, &ast::Expr),
    ) -> Result<NodeId, Error> {
        let (a, b) = if matches!(op, BinOp::MatMul | BinOp::Pow) {
            (a, b)
        } else {
            self.orient_vectors(op, op_span, (a, lhs), (b, rhs))?
        };
        let (sa, sb) = (self.graph.shape(a), self.graph.shape(b));
        let ok = match op {
            BinOp::MatMul => sa.matmul(sb).is_some(),
            BinOp::Pow => true,
            _ => sa.broadcast(sb).is_some(),
        };
        if !ok {
            let kind = ErrorKind::ShapeMismatch {
                op: op.symbol().into(),
                left: self.operand(a, lhs),
                right: self.operand(b, rhs),
            };
            return Err(Error::new(kind, op_span));
        }
        if op != BinOp::MatMul && op != BinOp::Pow {
            self.vector_beside_channels_last(op_span, a, b)?;
            self.note_stretch(a, b);
        }
        let g = &mut self.graph;
        Ok(match op {
            BinOp::Add => g.add(a, b),
            BinOp::Sub => g.sub(a, b),
            BinOp::Mul => g.mul(a, b),
            BinOp::Div => g.div(a, b),
            BinOp::MatMul => g.matmul(a, b),
            BinOp::Pow => match g.as_const(b) {
                Some(e) => {
                    let e = e.clone();
                    g.pow(a, e)
                }
                None => return Err(Error::new(ErrorKind::ExponentNotNumber, rhs.span)),
            },
        })
    }

    fn call(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Expr],
        keywords: &[ast::KeywordArg],
        built: Vec<NodeId>,
        span: Span,
        scope: &Scope,
    ) -> Result<NodeId, Error> {
        let allowed = Builtin::lookup(&func.name).map(Builtin::keywords).unwrap_or(&[]);
        check_keywords(func, keywords, allowed)?;
        let arity_error = |expected: usize| {
            let args = args.iter().map(expr_text).collect();
            Error::new(ErrorKind::WrongArity { func: func.name.clone(), expected, found: built.len(), args }, span)
        };
        if let Some(index) = self.functions.get_index_of(&func.name) {
            let params = self.functions[index].params.len();
            if params != built.len() {
                return Err(arity_error(params));
            }
            let mut shape = Shape::scalar();
            for (&node, arg) in built.iter().zip(args) {
                match shape.broadcast(self.graph.shape(node)) {
                    Some(s) => shape = s,
                    None => {
                        let first = self.operand(built[0], &args[0]);
                        let kind = ErrorKind::ShapeMismatch {
                            op: func.name.clone(),
                            left: first,
                            right: self.operand(node, arg),
                        };
                        return Err(Error::new(kind, func.span));
                    }
                }
            }
            return Ok(self.graph.apply(Func::Custom(FnId(index as u32)), built));
        }
        let Some(builtin) = Builtin::lookup(&func.name) else {
            if let Scope::Function { name, .. } = scope {
                if *name == func.name || self.fn_spans.contains_key(&func.name) {
                    let kind = ErrorKind::FnNotYetDefined {
                        func: name.to_string(),
                        called: func.name.clone(),
                        recursive: *name == func.name,
                    };
                    return Err(Error::new(kind, func.span));
                }
            }
            if self.tensors.contains_key(&func.name) {
                return Err(Error::new(ErrorKind::TensorAsFunction { name: func.name.clone() }, func.span));
            }
            let mut candidates: Vec<&str> = Builtin::names().collect();
            candidates.extend(self.fn_spans.keys().map(String::as_str));
            let suggestion = suggest(&func.name, candidates);
            let args = args.iter().map(expr_text).collect();
            return Err(Error::new(
                ErrorKind::UnknownFunction { name: func.name.clone(), suggestion, args },
                func.span,
            ));
        };
        // conv2d takes its bias as an optional third argument, in PyTorch's
        // order `conv2d(input, weight, bias)`.
        let optional_bias = builtin == Builtin::Conv2d && built.len() == 3;
        if builtin.arity() != built.len() && !optional_bias {
            return Err(arity_error(builtin.arity()));
        }
        if let (Scope::Function { name, .. }, false) = (scope, matches!(builtin, Builtin::Elementwise(_))) {
            return Err(Error::new(
                ErrorKind::NotElementwise { func: name.to_string(), called: func.name.clone() },
                func.span,
            ));
        }
        let g = &mut self.graph;
        Ok(match builtin {
            Builtin::Elementwise(e) => {
                // `max(a, b)`: equal shapes, or a scalar spread over the other.
                if let [a, b] = built[..] {
                    if g.shape(a).broadcast(g.shape(b)).is_none() {
                        let kind = ErrorKind::ShapeMismatch {
                            op: func.name.clone(),
                            left: self.operand(a, &args[0]),
                            right: self.operand(b, &args[1]),
                        };
                        return Err(Error::new(kind, func.span));
                    }
                }
                self.graph.apply(Func::Builtin(e), built)
            }
            Builtin::Reduce(r) => match axis_keyword(keywords)? {
                None => g.reduce(r, built[0]),
                Some((axis, at)) => {
                    let a = built[0];
                    let shape = g.shape(a).clone();
                    if shape.rank() > 2 || shape.is_scalar() {
                        let expected = "a vector or a matrix when an axis is given";
                        return Err(Error::new(ErrorKind::WrongRank { what: func.name.clone(), shape, expected }, at));
                    }
                    let total = g.sum_axis(a, axis);
                    match r {
                        Reduction::Sum => total,
                        Reduction::Mean => {
                            let n = g.int(shape.axis_len(axis) as i64);
                            g.div(total, n)
                        }
                    }
                }
            },
            Builtin::Softmax | Builtin::LogSoftmax => {
                let axis = self.class_axis(func, keywords, built[0], &args[0])?;
                if let Some(k) = keywords.iter().find(|k| k.name.name == "mask") {
                    return self.softmax_mask(built[0], &k.value, axis);
                }
                let g = &mut self.graph;
                if builtin == Builtin::Softmax {
                    g.softmax(built[0], axis)
                } else {
                    g.log_softmax(built[0], axis)
                }
            }
            Builtin::Loss(kind) => {
                let (y, p) = (built[0], built[1]);
                let (sy, sp) = (g.shape(y), g.shape(p));
                if sy.is_scalar() != sp.is_scalar() && sy.len() == 1 && sp.len() == 1 {
                    if let Some(rewrite) =
                        self.redeclared(&args[0], &args[1]).or_else(|| self.redeclared(&args[1], &args[0]))
                    {
                        let kind = ErrorKind::LossScalarAgainstOneEntry {
                            func: func.name.clone(),
                            left: self.operand(y, &args[0]),
                            right: self.operand(p, &args[1]),
                            rewrite,
                        };
                        return Err(Error::new(kind, func.span));
                    }
                }
                if kind != LossFn::Mse && self.computed(y) && self.data_only(p) {
                    let kind = ErrorKind::LossArgumentsSwapped {
                        func: func.name.clone(),
                        first: self.operand(y, &args[0]),
                        second: self.operand(p, &args[1]),
                        first_text: expr_text(&args[0]),
                        second_text: expr_text(&args[1]),
                    };
                    return Err(Error::new(kind, func.span));
                }
                let y = match self.class_labels(kind, func, keywords, y, p, args)? {
                    Some(one_hot) => one_hot,
                    None => y,
                };
                let g = &mut self.graph;
                if !g.shape(y).same_as(g.shape(p)) {
                    let kind = ErrorKind::ShapeMismatch {
                        op: func.name.clone(),
                        left: self.operand(y, &args[0]),
                        right: self.operand(p, &args[1]),
                    };
                    return Err(Error::new(kind, func.span));
                }
                let kind = match kind {
                    // A batch: the classes lie along an axis, and the loss is
                    // the mean over the examples along the other.
                    LossFn::CrossEntropy(_) if self.graph.shape(p).vector_axis().is_none() => {
                        LossFn::CrossEntropy(Some(self.class_axis(func, keywords, p, &args[1])?))
                    }
                    kind => kind,
                };
                self.graph.loss(kind, y, p)
            }
            Builtin::Conv2d => {
                window::refuse_lists("conv2d", keywords)?;
                let stride = keyword_value(keywords, "stride", 1, 1)?;
                let pad = keyword_value(keywords, "pad", 0, 0)?;
                let layout = maps::layout_keyword(func, keywords)?;
                let conv = Conv { stride, pad, layout };
                let (x, k) = (built[0], built[1]);
                match g.shape(x).conv2d(g.shape(k), conv) {
                    Err(error) => {
                        let operands = vec![self.operand(x, &args[0]), self.operand(k, &args[1])];
                        let kind = ErrorKind::LayerShape { func: func.name.clone(), error, operands, pad };
                        return Err(Error::new(kind, span));
                    }
                    // Padding can make the output larger than either operand.
                    Ok(out) if out.len() > MAX_ENTRIES => {
                        let kind = ErrorKind::TooLarge { entries: out.len() as u128, limit: MAX_ENTRIES };
                        return Err(Error::new(kind, span));
                    }
                    Ok(_) => {
                        // So can the padded input the kernels slide over.
                        let input = layout.map_to_nchw(g.shape(x).dims());
                        let padded = input.iter().enumerate().fold(1u128, |n, (axis, &d)| {
                            n.saturating_mul(d as u128 + if axis > 0 { 2 * pad as u128 } else { 0 })
                        });
                        if padded > MAX_ENTRIES as u128 {
                            let kind = ErrorKind::PaddedTooLarge { entries: padded, pad, limit: MAX_ENTRIES };
                            return Err(Error::new(kind, span));
                        }
                    }
                }
                let z = Conv2d.build(&mut self.graph, ConvPart::Forward, &[x, k], conv);
                match built.get(2) {
                    // The bias adds b[f] to channel f: the sum that a bias
                    // written after the call, `conv2d(X, K) + b`, denotes.
                    Some(&b) => self.conv_bias(func, args, (z, k, b), layout, pad)?,
                    None => z,
                }
            }
            Builtin::Pool(kind) => {
                let layout = maps::layout_keyword(func, keywords)?;
                let a = built[0];
                let extent = match *layout.map_to_nchw(g.shape(a).dims()) {
                    [.., h, w] => [h, w],
                    _ => [0, 0],
                };
                let window = window::pool_window(args, keywords, extent, layout)?;
                if let Err(error) = g.shape(a).pool(window) {
                    let operands = vec![self.operand(a, &args[0])];
                    // The padding along the axis the error names, for its message.
                    let pad = match error {
                        LayerShapeError::WindowTooLarge { axis: "width", .. } => window.pad[1],
                        _ => window.pad[0],
                    };
                    let kind = ErrorKind::LayerShape { func: func.name.clone(), error, operands, pad };
                    return Err(Error::new(kind, span));
                }
                Pool.build(&mut self.graph, (kind, PoolPart::Forward), &[a], window)
            }
            Builtin::Flatten => g.flatten(built[0]),
            Builtin::Layer(layer) => {
                return layer.op().expand(&mut layers::Call { checker: self, args, keywords, built: &built, span })
            }
        })
    }

    /// The axis a softmax, log_softmax or batch cross-entropy works along
    /// (the axis its classes lie along): a vector's own; for a matrix the
    /// `axis` keyword, else the network's layout ([`Checker::layout_axis`]),
    /// else an error asking for the axis.
    fn class_axis(
        &mut self,
        func: &ast::Ident,
        keywords: &[ast::KeywordArg],
        arg: NodeId,
        arg_expr: &ast::Expr,
    ) -> Result<Axis, Error> {
        let shape = self.graph.shape(arg).clone();
        if shape.is_scalar() || shape.rank() > 2 {
            let expected = "a vector or a matrix";
            return Err(Error::new(ErrorKind::WrongRank { what: func.name.clone(), shape, expected }, arg_expr.span));
        }
        let given = axis_keyword(keywords)?;
        if let Some(own) = shape.vector_axis() {
            return match given {
                Some((axis, at)) if axis != own && shape.len() > 1 => {
                    let kind = ErrorKind::AxisOfVector { func: func.name.clone(), shape, axis: axis.index() };
                    Err(Error::new(kind, at))
                }
                _ => Ok(own),
            };
        }
        let axis = match given {
            Some((axis, _)) => axis,
            None => match self.stated_axis().or_else(|| self.layout_axis(arg)) {
                Some(axis) => axis,
                None => {
                    let kind = ErrorKind::AxisNeeded { func: func.name.clone(), shape, arg: expr_text(arg_expr) };
                    return Err(Error::new(kind, func.span));
                }
            },
        };
        self.note_batch(Batch { examples: axis.other(), size: shape.axis_len(axis.other()) });
        Ok(axis)
    }

    /// Integer class labels as the target of a cross-entropy, read as
    /// one-hot: `c[N]` against a batch `P[C, N]` (or `[N, C]`), one example
    /// per label, or one label `c` against a vector `p[C]`. `None` when `y`
    /// is not such labels (then the shapes are compared as they are).
    fn class_labels(
        &mut self,
        kind: LossFn,
        func: &ast::Ident,
        keywords: &[ast::KeywordArg],
        y: NodeId,
        p: NodeId,
        args: &[ast::Expr],
    ) -> Result<Option<NodeId>, Error> {
        let (sy, sp) = (self.graph.shape(y).clone(), self.graph.shape(p).clone());
        let plain = sy.same_as(&sp) || sp.is_scalar() || sp.rank() > 2 || sp.len() < 2;
        if !matches!(kind, LossFn::CrossEntropy(_)) || plain || self.computed(y) {
            return Ok(None);
        }
        let axis = match sp.vector_axis() {
            Some(axis) if sy.is_scalar() => axis,
            Some(_) => return Ok(None),
            None if sy.vector_axis().is_some() => {
                let axis = self.class_axis(func, keywords, p, &args[1])?;
                if sy.len() != sp.axis_len(axis.other()) {
                    return Ok(None);
                }
                axis
            }
            None => return Ok(None),
        };
        let classes = sp.axis_len(axis);
        self.check_labels(y, classes, &sp)?;
        Ok(Some(self.graph.one_hot(y, classes, axis)))
    }

    /// The given values of class labels, when `labels` names a tensor that
    /// has them: whole numbers from 0 to `classes` − 1.
    fn check_labels(&self, labels: NodeId, classes: usize, output: &Shape) -> Result<(), Error> {
        let super::Node::Tensor(t) = *self.graph.node(labels) else { return Ok(()) };
        let tensor = &self.tensors[t.0 as usize];
        let Some(values) = tensor.exact_value() else { return Ok(()) };
        let bound = BigRational::from_integer(classes.into());
        let bad =
            values.iter().position(|v| !v.is_integer() || *v < BigRational::from_integer(0.into()) || *v >= bound);
        match bad {
            None => Ok(()),
            Some(entry) => {
                let kind = ErrorKind::ClassLabel {
                    name: tensor.name.clone(),
                    value: decimal(&values[entry]),
                    entry,
                    classes,
                    output: output.clone(),
                };
                Err(Error::new(kind, tensor.span))
            }
        }
    }

    /// The axis the classes of a batch lie along, read from how the network
    /// lays out its examples: the nearest product with a parameter that
    /// `root` is computed from decides, `W @ H` (the weight on the left:
    /// examples are columns, classes run down each column, axis 0) or
    /// `H @ W` (examples are rows, axis 1); a softmax on the way says its
    /// own axis. `None` when nothing decides.
    fn layout_axis(&self, root: NodeId) -> Option<Axis> {
        let g = &self.graph;
        let is_weight = |n: NodeId| {
            let n = match *g.node(n) {
                super::Node::Transpose(inner) => inner,
                _ => n,
            };
            matches!(*g.node(n), super::Node::Tensor(t) if self.tensors[t.0 as usize].role == Role::Param)
        };
        let mut seen = std::collections::HashSet::new();
        let mut queue = std::collections::VecDeque::from([root]);
        while let Some(n) = queue.pop_front() {
            if !seen.insert(n) {
                continue;
            }
            match *g.node(n) {
                super::Node::Tensor(t) => queue.extend(self.tensors[t.0 as usize].definition),
                super::Node::MatMul(a, b) if is_weight(a) != is_weight(b) => {
                    return Some(if is_weight(a) { Axis::DOWN } else { Axis::ACROSS });
                }
                super::Node::Softmax(a, axis) | super::Node::LogSoftmax(a, axis)
                    if g.shape(a).vector_axis().is_none() =>
                {
                    return Some(axis);
                }
                ref node => queue.extend(node.children()),
            }
        }
        None
    }

    /// Records a batch when `a` and `b` are stretched one over the other
    /// along an axis (a bias added to every example): the examples lie along
    /// it. A `[1]` added to a column `[n]` is no batch: the result must be a
    /// matrix of several rows and columns.
    fn note_stretch(&mut self, a: NodeId, b: NodeId) {
        let (sa, sb) = (self.graph.shape(a).clone(), self.graph.shape(b).clone());
        for (small, big) in [(&sa, &sb), (&sb, &sa)] {
            if big.vector_axis().is_some() {
                continue;
            }
            if let [axis] = small.stretched_axes(big)[..] {
                self.note_batch(Batch { examples: axis, size: big.axis_len(axis) });
            }
        }
    }

    fn note_batch(&mut self, batch: Batch) {
        self.batch.get_or_insert(batch);
    }

    /// Does `node` use a parameter or an equation (is it computed by the network)?
    fn computed(&self, node: NodeId) -> bool {
        tensors_in(&self.graph, node)
            .iter()
            .any(|t| matches!(self.tensors[t.0 as usize].role, Role::Param | Role::Intermediate | Role::Loss))
    }

    /// Is `node` made of data alone (inputs, targets, constants, numbers)?
    fn data_only(&self, node: NodeId) -> bool {
        !self.computed(node)
    }

    /// When `data` names a declared data tensor that is a scalar or has one
    /// entry, its declaration rewritten to the shape of `other`
    /// (`target y[1] = [1]` for `target y = 1`).
    fn redeclared(&self, data: &ast::Expr, other: &ast::Expr) -> Option<String> {
        let ExprKind::Name(n) = &data.kind else { return None };
        let t = self.tensors.get(&n.name)?;
        let keyword = match t.role {
            Role::Input => "input",
            Role::Target => "target",
            Role::Const => "const",
            _ => return None,
        };
        let value = t.value.as_ref().and_then(|v| v.first()).map(|d| decimal(&d.to_rational()));
        let other_scalar = match &other.kind {
            ExprKind::Name(o) => self.tensors.get(&o.name).map(|o| o.shape.is_scalar()),
            _ => None,
        };
        let to_scalar = other_scalar.unwrap_or(!t.shape.is_scalar());
        Some(match (to_scalar, value) {
            (true, Some(v)) => format!("{keyword} {} = {v}", t.name),
            (true, None) => format!("{keyword} {}", t.name),
            (false, Some(v)) => format!("{keyword} {}[1] = [{v}]", t.name),
            (false, None) => format!("{keyword} {}[1]", t.name),
        })
    }

    /// The loss, or `None` with the error reported.
    fn loss(&mut self, file: &ast::File) -> Option<TensorId> {
        let mut found: Option<&ast::Equation> = None;
        for item in &file.items {
            if let Item::Loss(eq) = item {
                match found {
                    Some(first) => self.report(Error::new(ErrorKind::SecondLoss { first: first.span }, eq.span)),
                    None => found = Some(eq),
                }
            }
        }
        let Some(eq) = found else {
            self.report(Error { kind: Box::new(ErrorKind::NoLoss), span: None });
            return None;
        };
        let id = TensorId(self.tensors.get_index_of(&eq.name.name)? as u32);
        if self.tensors[id.0 as usize].role != Role::Loss {
            // Named like a tensor declared before it: reported as a duplicate.
            return None;
        }
        let shape = &self.tensors[id.0 as usize].shape;
        // A loss that failed has no shape to judge.
        if !self.failed.contains(&id) && !shape.is_scalar() && shape.len() != 1 {
            let kind = ErrorKind::LossNotScalar { shape: shape.clone() };
            self.report(Error::new(kind, eq.value.span));
            return None;
        }
        Some(id)
    }

    fn train(&self, file: &ast::File) -> Result<Option<Train>, Error> {
        let mut found: Option<&ast::Train> = None;
        for item in &file.items {
            if let Item::Train(t) = item {
                if let Some(first) = found {
                    return Err(Error::new(ErrorKind::SecondTrain { first: first.span }, t.span));
                }
                found = Some(t);
            }
        }
        let Some(t) = found else { return Ok(None) };
        let Some(kind) = optimizer::kind(&t.optimizer.name) else {
            let names = optimizer::KINDS.iter().map(|k| k.name);
            // CS231n calls momentum `sgd_momentum`.
            let suggestion = match t.optimizer.name.as_str() {
                "sgd_momentum" | "nesterov" => Some("momentum".to_string()),
                other => crate::diagnostic::suggest(other, names),
            };
            let kind = ErrorKind::UnknownOptimizer { name: t.optimizer.name.clone(), suggestion };
            return Err(Error::new(kind, t.optimizer.span));
        };
        let mut given: Vec<(&'static str, BigRational)> = Vec::new();
        let mut start = train_state::Start::default();
        for (i, arg) in t.args.iter().enumerate() {
            let name = arg.name.name.as_str();
            if let Some(first) = t.args[..i].iter().find(|f| f.name.name == name) {
                let kind = ErrorKind::DuplicateSetting {
                    optimizer: kind.name,
                    name: name.to_string(),
                    first: first.name.span,
                };
                return Err(Error::new(kind, arg.name.span));
            }
            if let Some(part) = kind.state.iter().find(|s| s.name == name) {
                start.add(kind, part, arg, &self.tensors)?;
                continue;
            }
            let Some(setting) = kind.settings.iter().find(|s| s.name == name) else {
                if let Some((owner, _)) = optimizer::state_owner(name) {
                    let kind =
                        ErrorKind::StateOfOtherOptimizer { optimizer: kind, name: name.to_string(), owner: owner.name };
                    return Err(Error::new(kind, arg.name.span));
                }
                let names = kind.settings.iter().map(|s| s.name).chain(kind.state.iter().map(|s| s.name));
                let suggestion = crate::diagnostic::suggest(name, names);
                // The whole statement as nnderive writes it, every other setting kept.
                let rewrite = optimizer::foreign_setting(kind.name, name).map(|(to, setting)| {
                    let args: Vec<String> = t
                        .args
                        .iter()
                        .map(|a| match a.name.name == name {
                            true => format!("{setting} = {}", a.value.text()),
                            false => format!("{} = {}", a.name.name, a.value.text()),
                        })
                        .collect();
                    format!("train {to}({})", args.join(", "))
                });
                let kind = ErrorKind::UnknownTrainArg { optimizer: kind, name: name.to_string(), suggestion, rewrite };
                return Err(Error::new(kind, arg.name.span));
            };
            let ast::TrainValue::Number(number) = &arg.value else {
                let kind = ErrorKind::SettingNeedsNumber { optimizer: kind.name, setting: *setting };
                return Err(Error::new(kind, arg.value.span()));
            };
            let v = &number.value;
            let zero = BigRational::from_integer(0.into());
            let fits = match setting.range {
                Range::Positive => *v > zero,
                Range::DecayRate => *v >= zero && *v < BigRational::from_integer(1.into()),
                Range::Count => {
                    v.is_integer() && u32::try_from(v.to_integer()).is_ok_and(|n| (1..=MAX_STEPS).contains(&n))
                }
            };
            if !fits {
                let kind = match (setting.name, setting.range) {
                    ("lr", _) => ErrorKind::LearningRateNotPositive,
                    (_, Range::Count) => ErrorKind::BadSteps { limit: MAX_STEPS },
                    _ => ErrorKind::SettingOutOfRange { optimizer: kind.name, setting: *setting },
                };
                return Err(Error::new(kind, number.span));
            }
            given.push((setting.name, v.clone()));
        }
        let value =
            |name: &str| {
                given.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).or_else(|| {
                    kind.settings.iter().find(|s| s.name == name).and_then(optimizer::Setting::default_value)
                })
            };
        let Some(lr) = value("lr") else {
            return Err(Error::new(ErrorKind::MissingLearningRate { optimizer: kind.name }, t.span));
        };
        let steps = value("steps").and_then(|s| u32::try_from(s.to_integer()).ok()).unwrap_or(1);
        let optimizer = Optimizer::from_settings(kind.name, |name| {
            value(name).unwrap_or_else(|| BigRational::from_integer(0.into()))
        })
        .ok_or_else(|| Error::new(ErrorKind::UnknownOptimizer { name: kind.name.into(), suggestion: None }, t.span))?;
        if !self.tensors.values().any(|t| t.role == Role::Param) {
            return Err(Error::new(ErrorKind::NothingToTrain, t.span));
        }
        let params: Vec<TensorId> = self
            .tensors
            .values()
            .enumerate()
            .filter(|(_, t)| t.role == Role::Param)
            .map(|(i, _)| TensorId(i as u32))
            .collect();
        let (state, taken) = start.finish(&params);
        Ok(Some(Train { optimizer, lr, steps, state, taken, span: t.span }))
    }
}

/// Refuses keyword arguments that `func` does not take, or that come twice.
fn check_keywords(
    func: &ast::Ident,
    keywords: &[ast::KeywordArg],
    allowed: &'static [&'static str],
) -> Result<(), Error> {
    for (i, k) in keywords.iter().enumerate() {
        if !allowed.contains(&k.name.name.as_str()) {
            let kind = ErrorKind::UnknownKeyword { func: func.name.clone(), name: k.name.name.clone(), allowed };
            return Err(Error::new(kind, k.name.span));
        }
        if let Some(first) = keywords[..i].iter().find(|f| f.name.name == k.name.name) {
            let kind = ErrorKind::DuplicateKeyword { name: k.name.name.clone(), first: first.name.span };
            return Err(Error::new(kind, k.name.span));
        }
    }
    Ok(())
}

/// The value of keyword `name` (a whole number ≥ `min`), or `default`.
fn keyword_value(keywords: &[ast::KeywordArg], name: &'static str, default: usize, min: usize) -> Result<usize, Error> {
    match keywords.iter().find(|k| k.name.name == name) {
        Some(k) => whole_number(&k.value, name, min),
        None => Ok(default),
    }
}

/// A switch keyword such as `ceil = true`: `false` when not given.
fn switch_value(keywords: &[ast::KeywordArg], name: &'static str) -> Result<bool, Error> {
    let Some(k) = keywords.iter().find(|k| k.name.name == name) else {
        return Ok(false);
    };
    match &k.value.kind {
        ExprKind::Name(n) if n.name == "true" => Ok(true),
        ExprKind::Name(n) if n.name == "false" => Ok(false),
        _ => Err(Error::new(ErrorKind::BadSwitch { what: name }, k.value.span)),
    }
}

/// The `axis = 0` or `axis = 1` keyword, with where it is written.
fn axis_keyword(keywords: &[ast::KeywordArg]) -> Result<Option<(Axis, Span)>, Error> {
    let Some(k) = keywords.iter().find(|k| k.name.name == "axis") else {
        return Ok(None);
    };
    let mut e = &k.value;
    while let ExprKind::Paren(inner) = &e.kind {
        e = inner;
    }
    let axis = match &e.kind {
        ExprKind::Number(n) if n.value.is_integer() => {
            usize::try_from(n.value.to_integer()).ok().and_then(Axis::of_matrix)
        }
        _ => None,
    };
    match axis {
        Some(axis) => Ok(Some((axis, k.value.span))),
        None => Err(Error::new(ErrorKind::BadAxis, k.value.span)),
    }
}

/// The largest stride, padding or window nnderive accepts (a typo guard).
pub const MAX_WINDOW: usize = 4096;

/// A whole number from `min` to [`MAX_WINDOW`] written as a literal.
fn whole_number(expr: &ast::Expr, what: &'static str, min: usize) -> Result<usize, Error> {
    let mut e = expr;
    while let ExprKind::Paren(inner) = &e.kind {
        e = inner;
    }
    let value = match &e.kind {
        ExprKind::Number(n) if n.value.is_integer() => usize::try_from(n.value.to_integer()).ok(),
        ExprKind::List(_) => return Err(window::list_not_allowed(what.to_string(), e)),
        _ => None,
    };
    match value {
        Some(v) if (min..=MAX_WINDOW).contains(&v) => Ok(v),
        _ => Err(Error::new(ErrorKind::BadLayerArg { what, min, max: MAX_WINDOW }, expr.span)),
    }
}

/// The declared shape, refusing zero and oversized dimensions.
fn dims_shape(decl: &ast::TensorDecl) -> Result<Shape, Error> {
    let mut entries: u128 = 1;
    let mut dims = Vec::with_capacity(decl.dims.len());
    for d in &decl.dims {
        if d.size == 0 {
            return Err(Error::new(ErrorKind::ZeroDim, d.span));
        }
        entries = entries.saturating_mul(u128::from(d.size));
        if entries > MAX_ENTRIES as u128 {
            let span = decl.dims_span.unwrap_or(d.span);
            let total = decl.dims.iter().fold(1u128, |acc, d| acc.saturating_mul(u128::from(d.size)));
            return Err(Error::new(ErrorKind::TooLarge { entries: total, limit: MAX_ENTRIES }, span));
        }
        dims.push(d.size as usize);
    }
    Ok(Shape(dims))
}

/// The entries of a literal in row-major order, checked against `shape`.
pub(crate) fn literal_values(lit: &Literal, shape: &Shape) -> Result<ast::Decimals, Error> {
    let mut out = ast::Decimals::with_capacity(shape.len());
    collect_literal(lit, shape.dims(), &mut out)?;
    Ok(out)
}

fn collect_literal(lit: &Literal, dims: &[usize], out: &mut ast::Decimals) -> Result<(), Error> {
    let mismatch = || {
        Error::new(ErrorKind::LiteralShape { expected: describe_dims(dims), found: describe_literal(lit) }, lit.span())
    };
    match (lit, dims) {
        (Literal::Number(n), []) => {
            out.push(ast::Decimal::from_rational(n.value.clone()));
            Ok(())
        }
        (Literal::List { items, .. }, [n, rest @ ..]) if items.len() == *n => {
            items.iter().try_for_each(|item| collect_literal(item, rest, out))
        }
        (Literal::Numbers(list), [n]) if list.len() == *n => {
            out.extend_from(list.values());
            Ok(())
        }
        // A number where a list belongs: the first one is pointed at.
        (Literal::Numbers(list), [n, rest @ ..]) if list.len() == *n => {
            collect_literal(&Literal::Number(list.number(0)), rest, out)
        }
        _ => Err(mismatch()),
    }
}

fn describe_dims(dims: &[usize]) -> String {
    match dims {
        [] => "a number".into(),
        [n] => format!("a list of {n} number{}", if *n == 1 { "" } else { "s" }),
        [n, rest @ ..] => format!("a list of {n}, each {}", describe_dims(rest)),
    }
}

fn describe_literal(lit: &Literal) -> String {
    match lit {
        Literal::Number(_) => "a number".into(),
        Literal::Numbers(list) => format!("a list of {} number{}", list.len(), if list.len() == 1 { "" } else { "s" }),
        Literal::List { items, .. } => {
            let inner = match items.first() {
                Some(Literal::Number(_)) if items.iter().all(|i| matches!(i, Literal::Number(_))) => {
                    return format!("a list of {} number{}", items.len(), if items.len() == 1 { "" } else { "s" })
                }
                Some(first) => describe_literal(first),
                None => return "an empty list".into(),
            };
            format!("a list of {}, the first {}", items.len(), inner)
        }
    }
}

/// A value read from a literal, written back as one (literals are decimals,
/// so the expansion ends).
fn decimal(r: &BigRational) -> String {
    let ten = BigRational::from_integer(10.into());
    let mut scaled = r.clone();
    let mut places = 0usize;
    while !scaled.is_integer() && places < 2100 {
        scaled *= &ten;
        places += 1;
    }
    let digits = scaled.to_integer().to_string();
    if places == 0 {
        return digits;
    }
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d.to_string()),
        None => ("", digits),
    };
    let padded = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = padded.split_at(padded.len() - places);
    format!("{sign}{int}.{frac}")
}

/// Does the tensor `id` depend on any parameter?
fn depends_on_param(model: &Model, id: TensorId) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![id];
    while let Some(t) = stack.pop() {
        if !seen.insert(t) {
            continue;
        }
        let tensor = model.tensor(t);
        if tensor.role == Role::Param {
            return true;
        }
        if let Some(def) = tensor.definition {
            stack.extend(tensors_in(&model.graph, def));
        }
    }
    false
}

/// The tensors an expression refers to directly.
pub(crate) fn tensors_in(graph: &Graph, root: NodeId) -> Vec<TensorId> {
    graph
        .nodes_under(&[root])
        .into_iter()
        .filter_map(|n| match graph.node(n) {
            super::Node::Tensor(t) => Some(*t),
            _ => None,
        })
        .collect()
}
