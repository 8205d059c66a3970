use super::*;

#[test]
fn placeholder_compiles() {
    let q = BoundedQueue::new(1);
    q.try_submit(1).unwrap();
    assert_eq!(q.try_recv(), Ok(1));
}
