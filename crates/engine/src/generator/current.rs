//! The entry the generator is working on: each of its steps looks it up
//! by index, and a lookup in the shared store (its part found, locked and
//! held) costs more than the step itself, so the last one is kept.
use super::Gen;
use crate::store::Item;
use confine::RelPath;
use protocol::flist::FileEntry;
use std::cell::RefCell;
use std::rc::Rc;

/// One item kept with its index.
type Kept<T> = RefCell<Option<(usize, Rc<T>)>>;

/// The entry and the path last looked up, by index.
#[derive(Default)]
pub(super) struct Current {
    entry: Kept<Item<FileEntry>>,
    path: Kept<RelPath>,
}

/// The cached item for `i`, or `fetch`ed and kept.
fn cached<T>(slot: &Kept<T>, i: usize, fetch: impl FnOnce() -> T) -> Rc<T> {
    let mut slot = slot.borrow_mut();
    match &*slot {
        Some((k, item)) if *k == i => Rc::clone(item),
        _ => {
            let item = Rc::new(fetch());
            *slot = Some((i, Rc::clone(&item)));
            item
        }
    }
}

impl Gen<'_> {
    /// Entry `i` of the list (as `ctx.entries.at(i)`).
    pub(super) fn entry(&self, i: usize) -> Rc<Item<FileEntry>> {
        cached(&self.cur.entry, i, || self.ctx.entries.at(i))
    }

    /// The destination path of entry `i` (as `ctx.path(i)`).
    pub(super) fn path(&self, i: usize) -> Rc<RelPath> {
        cached(&self.cur.path, i, || self.ctx.path(i))
    }
}
