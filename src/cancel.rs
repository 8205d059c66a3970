//! [`CancelToken`]: a cheap, clonable "stop waiting" signal for blocking calls, with an
//! optional deadline and parent/child chaining: the synchronous counterpart of Go's
//! `context.Context`.
//!
//! A token is a shared node: a cancelled flag, an effective deadline (its own, capped by its
//! parent's), the threads currently blocked on it, and weak links to its children. `cancel()`
//! sets the flag, then wakes every watcher and cancels every live child. A blocked call
//! watches the token while it sleeps and sleeps no later than the token's deadline, so neither
//! cancellation nor expiry needs a timer thread.
//!
//! Cancellation is level-triggered and permanent: once cancelled, a token stays cancelled.

use std::fmt;
use std::sync::{Arc as StdArc, Weak};
use std::time::{Duration, Instant};

use crate::sync::{Arc, AtomicBool, Mutex, Ordering, Parker};

/// A clonable cancellation signal for blocking calls such as
/// [`BoundedQueue::submit_cancellable`](crate::BoundedQueue::submit_cancellable).
///
/// Clones share one signal: cancelling any clone cancels them all and wakes every call blocked
/// on any of them at once. [`child`](Self::child) makes a token that is cancelled with its parent
/// (and can also be cancelled on its own). A token made with a timeout or deadline makes
/// blocked calls give up at that instant with a *timeout* error, distinct from *cancelled*.
///
/// ```
/// use backpressure::{BoundedQueue, CancelToken, SubmitTimeoutError};
/// use std::{sync::Arc, thread, time::Duration};
///
/// let queue = Arc::new(BoundedQueue::new(1));
/// queue.try_submit(1).unwrap(); // now full
///
/// let token = CancelToken::new();
/// let canceller = token.clone();
/// let t = thread::spawn(move || {
///     thread::sleep(Duration::from_millis(20));
///     canceller.cancel();
/// });
/// // Blocks until the other thread cancels; the item comes back in the error.
/// match queue.submit_cancellable(2, &token) {
///     Err(SubmitTimeoutError::Cancelled(item)) => assert_eq!(item, 2),
///     other => panic!("{other:?}"),
/// }
/// t.join().unwrap();
/// ```
#[derive(Clone)]
pub struct CancelToken {
    node: StdArc<Node>,
}

struct Node {
    cancelled: AtomicBool,
    /// Effective deadline: its own, capped by every ancestor's.
    deadline: Option<Instant>,
    /// Keeps the parent's node (and so its weak link to us) alive while we live, so a chain
    /// of children built from temporaries still cancels from the root.
    parent: Option<StdArc<Node>>,
    links: Mutex<Links>,
}

#[derive(Default)]
struct Links {
    watchers: Vec<Arc<Parker>>,
    children: Vec<Weak<Node>>,
}

impl CancelToken {
    /// A token that is cancelled only by [`cancel`](Self::cancel) (or a parent's).
    ///
    /// ```
    /// let token = backpressure::CancelToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn new() -> Self {
        Self::with_optional_deadline(None, None)
    }

    /// A token whose blocked calls time out `timeout` from now. A timeout too large to
    /// represent (`Duration::MAX`) means no deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// let token = backpressure::CancelToken::with_timeout(Duration::from_secs(5));
    /// assert!(token.deadline().is_some());
    /// assert!(backpressure::CancelToken::with_timeout(Duration::MAX).deadline().is_none());
    /// ```
    pub fn with_timeout(timeout: Duration) -> Self {
        Self::with_optional_deadline(crate::deadline::after(timeout), None)
    }

    /// A token whose blocked calls time out at `deadline`. A deadline in the past is allowed:
    /// calls blocked on it make one attempt and then time out.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let at = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(backpressure::CancelToken::with_deadline(at).deadline(), Some(at));
    /// ```
    pub fn with_deadline(deadline: Instant) -> Self {
        Self::with_optional_deadline(Some(deadline), None)
    }

    fn with_optional_deadline(deadline: Option<Instant>, parent: Option<StdArc<Node>>) -> Self {
        Self {
            node: StdArc::new(Node {
                cancelled: AtomicBool::new(false),
                deadline,
                parent,
                links: Mutex::new(Links::default()),
            }),
        }
    }

    /// A new token cancelled whenever this one is, and also cancellable on its own without
    /// affecting this one. It inherits this token's deadline.
    ///
    /// ```
    /// let parent = backpressure::CancelToken::new();
    /// let child = parent.child();
    /// child.cancel();
    /// assert!(!parent.is_cancelled());
    /// let child = parent.child();
    /// parent.cancel();
    /// assert!(child.is_cancelled());
    /// ```
    pub fn child(&self) -> Self {
        self.child_until(None)
    }

    /// A linked child whose deadline is the earlier of `deadline` and ours.
    fn child_until(&self, deadline: Option<Instant>) -> Self {
        let deadline = crate::deadline::earliest(self.node.deadline, deadline);
        let child = Self::with_optional_deadline(deadline, Some(StdArc::clone(&self.node)));
        {
            let mut links = self.node.links.lock();
            links.children.retain(|c| c.strong_count() > 0);
            links.children.push(StdArc::downgrade(&child.node));
        }
        // Checked after linking: a `cancel` that took the lock before us set the flag first, so
        // the lock makes it visible here; one that takes it after us finds the link.
        if self.is_cancelled_explicitly() {
            child.cancel();
        }
        child
    }

    /// A child (as [`child`](Self::child)) that also times out `timeout` from now, or at this
    /// token's deadline if that is earlier: a per-request budget under a per-run token.
    ///
    /// ```
    /// use std::time::Duration;
    /// let run = backpressure::CancelToken::new();
    /// let request = run.child_with_timeout(Duration::from_millis(5));
    /// assert!(request.deadline().is_some());
    /// run.cancel();
    /// assert!(request.is_cancelled());
    /// ```
    pub fn child_with_timeout(&self, timeout: Duration) -> Self {
        self.child_until(crate::deadline::after(timeout))
    }

    /// A child (as [`child`](Self::child)) that also times out at `deadline`, or at this
    /// token's deadline if that is earlier.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let at = Instant::now() + Duration::from_secs(1);
    /// let parent = backpressure::CancelToken::new();
    /// assert_eq!(parent.child_with_deadline(at).deadline(), Some(at));
    /// ```
    pub fn child_with_deadline(&self, deadline: Instant) -> Self {
        self.child_until(Some(deadline))
    }

    /// Cancels this token and its descendants, waking every call blocked on any of them.
    /// Cancelling twice is harmless.
    ///
    /// ```
    /// let token = backpressure::CancelToken::new();
    /// token.cancel();
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        // A worklist, not recursion: a chain of a million children must not overflow the stack.
        let mut pending = vec![StdArc::clone(&self.node)];
        while let Some(node) = pending.pop() {
            // AcqRel: Release publishes the flag (and what the caller did before cancelling) to
            // the Acquire load in `is_cancelled_explicitly`; Acquire makes one canceller win.
            if node.cancelled.swap(true, Ordering::AcqRel) {
                continue;
            }
            let (watchers, children) = {
                let mut links = node.links.lock();
                (std::mem::take(&mut links.watchers), std::mem::take(&mut links.children))
            };
            for parker in watchers {
                parker.unpark();
            }
            pending.extend(children.iter().filter_map(Weak::upgrade));
        }
    }

    /// Whether the token was cancelled or its deadline has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let token = backpressure::CancelToken::with_timeout(Duration::ZERO);
    /// assert!(token.is_cancelled()); // expired
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.is_cancelled_explicitly() || crate::deadline::passed(self.node.deadline)
    }

    /// Whether `cancel` was called on this token or an ancestor (expiry not included).
    pub(crate) fn is_cancelled_explicitly(&self) -> bool {
        // Acquire: pairs with the Release in `cancel`.
        self.node.cancelled.load(Ordering::Acquire)
    }

    /// The instant blocked calls give up at, if any (the earliest along the parent chain).
    ///
    /// ```
    /// assert_eq!(backpressure::CancelToken::new().deadline(), None);
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }

    /// Registers `parker` to be woken by `cancel` until the returned guard drops.
    pub(crate) fn watch(&self, parker: &Arc<Parker>) -> Watch<'_> {
        self.node.links.lock().watchers.push(Arc::clone(parker));
        Watch { node: &self.node, parker: Arc::clone(parker) }
    }
}

impl Drop for Node {
    /// Unlinks the parent chain iteratively: dropping the last token of a deep chain of
    /// children would otherwise recurse once per ancestor and overflow the stack.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(node) = parent {
            match StdArc::try_unwrap(node) {
                Ok(mut node) => parent = node.parent.take(),
                Err(_) => break, // still shared: its other owners will drop it
            }
        }
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled_explicitly())
            .field("deadline", &self.node.deadline)
            .finish()
    }
}

/// Unregisters a watcher when the blocked call returns.
pub(crate) struct Watch<'a> {
    node: &'a Node,
    parker: Arc<Parker>,
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let mut links = self.node.links.lock();
        if let Some(at) = links.watchers.iter().position(|p| Arc::ptr_eq(p, &self.parker)) {
            links.watchers.swap_remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grandchild_is_cancelled_with_the_root() {
        let root = CancelToken::new();
        let grandchild = root.child().child();
        root.cancel();
        assert!(grandchild.is_cancelled());
    }

    #[test]
    fn child_of_a_cancelled_token_starts_cancelled() {
        let root = CancelToken::new();
        root.cancel();
        assert!(root.child().is_cancelled());
    }

    #[test]
    fn child_inherits_the_earlier_deadline() {
        let at = Instant::now() + Duration::from_secs(3);
        let parent = CancelToken::with_deadline(at);
        assert_eq!(parent.child().deadline(), Some(at));
    }

    #[test]
    fn dropped_children_are_pruned() {
        let root = CancelToken::new();
        for _ in 0..1000 {
            drop(root.child());
        }
        assert!(root.node.links.lock().children.len() <= 1);
    }

    #[test]
    fn token_is_send_sync_and_clone_shares_state() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CancelToken>();
        let a = CancelToken::new();
        let b = a.clone();
        b.cancel();
        assert!(a.is_cancelled());
    }
}
