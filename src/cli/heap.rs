//! The command's heap, counted: a global allocator that forwards every call to the system's and
//! keeps the live and the peak bytes, which `/metrics` exports (`gnip_stream_heap_bytes`,
//! `gnip_stream_heap_peak_bytes`). Under an emulator (qemu-user) the kernel's RSS is the
//! emulator's; these two are the command's own, on every target.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use gnip_stream::unversioned::metrics::render_heap;

/// The system allocator, counted.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl Counting {
    fn grew(by: usize) {
        let live = LIVE.fetch_add(by, Relaxed) + by;
        // Most calls do not raise the peak: a load first keeps them off the compare-exchange.
        if live > PEAK.load(Relaxed) {
            PEAK.fetch_max(live, Relaxed);
        }
    }

    fn shrank(by: usize) {
        LIVE.fetch_sub(by, Relaxed);
    }
}

// Each method out of line: inlined into every allocation site (LTO), the counting cost the edge
// build 25 KB.
// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting only reads sizes and touches two atomics.
unsafe impl GlobalAlloc for Counting {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout contract is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Counting::grew(layout.size());
        }
        p
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Counting::grew(layout.size());
        }
        p
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Counting::shrank(layout.size());
        // SAFETY: `ptr` was allocated by this allocator (that is, by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` and `layout` come from this allocator, as `realloc` requires.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            Counting::shrank(layout.size());
            Counting::grew(new_size);
        }
        p
    }
}

/// Appends the two heap gauges to a scrape.
pub fn render(out: &mut String) {
    render_heap(LIVE.load(Relaxed), PEAK.load(Relaxed), out);
}
