//! Stopping a long evaluation from outside: a caller that can be asked to
//! stop (the Python package, whose user presses "Interrupt kernel") runs
//! the evaluation under [`with_hook`], and the evaluator [`poll`]s the hook
//! as it goes, at each node it computes. The engine knows nothing of what
//! the hook asks; it only stops with [`super::Failure::Interrupted`] when
//! the hook says so.
//!
//! The hook is per thread (the evaluation runs on the caller's thread) and
//! asked at most once every [`INTERVAL`], so polling costs a clock read
//! every [`EVERY`] nodes and nothing more.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// How often the hook is asked, at most.
pub const INTERVAL: Duration = Duration::from_millis(20);

/// How many polls pass between two reads of the clock.
const EVERY: u32 = 64;

type Hook<'a> = &'a dyn Fn() -> bool;

thread_local! {
    // The hook, with its lifetime erased; set only inside `with_hook`, which
    // removes it again before the borrow it was made from ends.
    static HOOK: RefCell<Option<Hook<'static>>> = const { RefCell::new(None) };
    static STATE: Cell<(u32, Option<Instant>)> = const { Cell::new((0, None)) };
    static STOPPED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with `hook` asked, every [`INTERVAL`] or so of evaluation,
/// whether to stop; when it returns true, the evaluation stops with
/// [`super::Failure::Interrupted`] at the next node.
pub fn with_hook<T>(hook: &dyn Fn() -> bool, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Hook<'static>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            HOOK.with(|h| *h.borrow_mut() = self.0.take());
            STOPPED.with(|s| s.set(self.1));
        }
    }
    // SAFETY: the erased reference is removed by `Restore` (also on a
    // panic) before `hook`'s borrow ends, and only this thread reads it.
    let erased: Hook<'static> = unsafe { std::mem::transmute::<Hook<'_>, Hook<'static>>(hook) };
    let previous = HOOK.with(|h| h.borrow_mut().replace(erased));
    let restore = Restore(previous, STOPPED.with(|s| s.replace(false)));
    STATE.with(|s| s.set((0, Some(Instant::now()))));
    let out = f();
    drop(restore);
    out
}

/// True when the evaluation is to stop: the hook said so, now or before.
/// Cheap: without a hook it reads one thread-local.
pub fn poll() -> bool {
    if STOPPED.with(Cell::get) {
        return true;
    }
    let has_hook = HOOK.with(|h| h.borrow().is_some());
    if !has_hook {
        return false;
    }
    let (count, last) = STATE.with(Cell::get);
    if count + 1 < EVERY {
        STATE.with(|s| s.set((count + 1, last)));
        return false;
    }
    let now = Instant::now();
    if last.is_some_and(|l| now.duration_since(l) < INTERVAL) {
        STATE.with(|s| s.set((0, last)));
        return false;
    }
    STATE.with(|s| s.set((0, Some(now))));
    let stop = HOOK.with(|h| h.borrow().is_some_and(|hook| hook()));
    STOPPED.with(|s| s.set(stop));
    stop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_hook_nothing_stops() {
        assert!(!poll());
    }

    #[test]
    fn a_hook_that_says_stop_is_heard_within_an_interval() {
        let asked = Cell::new(0);
        let start = Instant::now();
        let stopped = with_hook(
            &|| {
                asked.set(asked.get() + 1);
                true
            },
            || {
                while !poll() {
                    assert!(start.elapsed() < Duration::from_secs(5));
                }
                poll()
            },
        );
        assert!(stopped && asked.get() == 1, "asked {} times", asked.get());
        // Out of `with_hook`, the hook is gone and nothing stops.
        assert!(!poll());
    }
}
