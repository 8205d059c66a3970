//! The queue's error types. Every error that refuses an item carries it back
//! (`into_inner`); none of them needs `T: Debug` to be printed.

use std::error::Error;
use std::fmt;

macro_rules! item_error {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $msg:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub enum $name<T> {
            $( $(#[$vmeta])* $variant(T), )+
        }

        impl<T> $name<T> {
            /// The item the queue refused, handed back.
            pub fn into_inner(self) -> T {
                match self {
                    $( Self::$variant(item) => item, )+
                }
            }

            /// A reference to the refused item.
            pub fn item(&self) -> &T {
                match self {
                    $( Self::$variant(item) => item, )+
                }
            }

            /// Whether the queue refused because it is closed (a permanent condition).
            pub fn is_closed(&self) -> bool {
                matches!(self, Self::Closed(_))
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Self::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)")), )+
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Self::$variant(_) => f.write_str($msg), )+
                }
            }
        }

        impl<T> Error for $name<T> {}
    };
}

item_error! {
    /// Why [`try_submit`](crate::BoundedQueue::try_submit) refused an item.
    ///
    /// ```
    /// use backpressure::{BoundedQueue, TrySubmitError};
    /// let q = BoundedQueue::new(1);
    /// q.try_submit("a").unwrap();
    /// let err = q.try_submit("b").unwrap_err();
    /// assert_eq!(err, TrySubmitError::Full("b"));
    /// assert_eq!(err.to_string(), "queue is full");
    /// assert_eq!(err.into_inner(), "b");
    /// ```
    TrySubmitError {
        /// The queue was at capacity.
        Full => "queue is full",
        /// The queue was closed.
        Closed => "queue is closed",
    }
}

item_error! {
    /// Why a bounded wait to submit ([`submit_timeout`](crate::BoundedQueue::submit_timeout),
    /// [`submit_deadline`](crate::BoundedQueue::submit_deadline),
    /// [`submit_cancellable`](crate::BoundedQueue::submit_cancellable)) gave the item back.
    ///
    /// ```
    /// use backpressure::{BoundedQueue, SubmitTimeoutError};
    /// use std::time::Duration;
    /// let q = BoundedQueue::new(1);
    /// q.try_submit(1).unwrap();
    /// let err = q.submit_timeout(2, Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err, SubmitTimeoutError::Timeout(2));
    /// assert!(!err.is_closed());
    /// ```
    SubmitTimeoutError {
        /// No space appeared before the deadline (the call's or its token's).
        Timeout => "timed out waiting for queue space",
        /// The queue was closed before space appeared.
        Closed => "queue is closed",
        /// The call's [`CancelToken`](crate::CancelToken) was cancelled.
        Cancelled => "cancelled while waiting for queue space",
    }
}

impl<T> From<TrySubmitError<T>> for SubmitTimeoutError<T> {
    /// `Full` maps to `Timeout`: a zero-length wait that found no space.
    fn from(err: TrySubmitError<T>) -> Self {
        match err {
            TrySubmitError::Full(item) => Self::Timeout(item),
            TrySubmitError::Closed(item) => Self::Closed(item),
        }
    }
}

/// [`submit`](crate::BoundedQueue::submit) failed because the queue is closed; the item is
/// handed back.
///
/// ```
/// use backpressure::{BoundedQueue, SubmitError};
/// let q = BoundedQueue::new(1);
/// q.close();
/// assert_eq!(q.submit(5), Err(SubmitError(5)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SubmitError<T>(pub T);

impl<T> SubmitError<T> {
    /// The refused item.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// A reference to the refused item, as the other queue errors offer.
    ///
    /// ```
    /// use backpressure::SubmitError;
    /// assert_eq!(SubmitError("job").item(), &"job");
    /// ```
    pub fn item(&self) -> &T {
        &self.0
    }

    /// Always `true`: blocking [`submit`](crate::BoundedQueue::submit) is refused only by a
    /// closed queue. Here so code written against the other queue errors reads the same.
    ///
    /// ```
    /// assert!(backpressure::SubmitError(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        true
    }
}

impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubmitError(..)")
    }
}

impl<T> fmt::Display for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is closed")
    }
}

impl<T> Error for SubmitError<T> {}

/// Why [`try_recv`](crate::BoundedQueue::try_recv) returned no item.
///
/// ```
/// use backpressure::{BoundedQueue, TryRecvError};
/// let q = BoundedQueue::<u8>::new(1);
/// assert_eq!(q.try_recv(), Err(TryRecvError::Empty));
/// q.close();
/// assert_eq!(q.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryRecvError {
    /// Nothing is queued right now.
    Empty,
    /// The queue is closed and everything accepted has been received.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "queue is empty",
            Self::Closed => "queue is closed and drained",
        })
    }
}

impl Error for TryRecvError {}

/// Why [`recv_timeout`](crate::BoundedQueue::recv_timeout),
/// [`recv_deadline`](crate::BoundedQueue::recv_deadline) or
/// [`recv_cancellable`](crate::BoundedQueue::recv_cancellable) returned no item.
///
/// ```
/// use backpressure::{BoundedQueue, RecvTimeoutError};
/// use std::time::Duration;
/// let q = BoundedQueue::<u8>::new(1);
/// assert_eq!(q.recv_timeout(Duration::ZERO), Err(RecvTimeoutError::Timeout));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecvTimeoutError {
    /// No item arrived before the deadline.
    Timeout,
    /// The queue is closed and everything accepted has been received.
    Closed,
    /// The token passed to [`recv_cancellable`](crate::BoundedQueue::recv_cancellable) was
    /// cancelled before an item arrived (never returned by the other calls).
    Cancelled,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timed out waiting for an item",
            Self::Closed => "queue is closed and drained",
            Self::Cancelled => "cancelled while waiting for an item",
        })
    }
}

impl Error for RecvTimeoutError {}

/// [`recv`](crate::BoundedQueue::recv) found the queue closed and drained.
///
/// ```
/// use backpressure::{BoundedQueue, RecvError};
/// let q = BoundedQueue::<u8>::new(1);
/// q.close();
/// assert_eq!(q.recv(), Err(RecvError));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is closed and drained")
    }
}

impl Error for RecvError {}
