//! Pause points for the crash tests, compiled into debug builds only. With
//! `COFFER_TEST_PAUSE_AT=POINT` (or `POINT:N`, the N-th time it is reached) the process
//! writes POINT to the file named by `COFFER_TEST_PAUSE_FILE` when it gets there and then
//! waits to be killed, so a test kills it exactly at POINT instead of guessing a delay. Points:
//! `pack` and `object` (a pack, or another object, copied by a push,
//! fetch or clone is written), `part` (the first part of a multipart upload
//! is stored), `claim` (a push's claim is written and read back), `listed` (a push has
//! listed the remote), `version` (a commit's version object is written, the head not yet
//! moved), `staged` (a checkout has staged every file and changed nothing yet), `pack-staged` (a
//! folder store has written a pack of 1 MiB or more under its staged name `NAME#N`, not yet
//! published), `rows` (a row diff took a working file's chunk ids and has not read it yet). With `COFFER_TEST_PAUSE_RESUME` set, deleting the file lets it go on. Release builds compile this away,
//! as they do the test clock ([`clock_shift`]).

/// Pause here if the environment asks for `point`.
#[cfg(debug_assertions)]
pub fn pause(point: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static REACHED: AtomicU64 = AtomicU64::new(0);
    if !armed(point) {
        return;
    }
    let Ok(want) = std::env::var("COFFER_TEST_PAUSE_AT") else {
        return;
    };
    let n: u64 = want
        .split_once(':')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1);
    if REACHED.fetch_add(1, Ordering::SeqCst) + 1 != n {
        return;
    }
    let file = std::env::var("COFFER_TEST_PAUSE_FILE").ok();
    if let Some(f) = &file {
        let _ = std::fs::write(f, point);
    }
    // With COFFER_TEST_PAUSE_RESUME, the test lets the process go on by deleting the file
    // (a race made exact: the other side runs while this one waits at POINT).
    if let (Some(f), true) = (
        &file,
        std::env::var_os("COFFER_TEST_PAUSE_RESUME").is_some(),
    ) {
        while std::path::Path::new(f).exists() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        return;
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Whether the environment asks to pause at `point` (some points take a detour to make
/// the pause exact, e.g. waiting for a part to be stored).
#[cfg(debug_assertions)]
pub fn armed(point: &str) -> bool {
    std::env::var("COFFER_TEST_PAUSE_AT")
        .is_ok_and(|w| w.split_once(':').map_or(w.as_str(), |(p, _)| p) == point)
}

/// Release builds: no pause points.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn pause(_point: &str) {}

/// Release builds: no pause points.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn armed(_point: &str) -> bool {
    false
}

/// Seconds added to the clock, from `COFFER_TEST_CLOCK_SHIFT` (debug builds only): the
/// freshness tests move a reader a week ahead instead of waiting a week.
#[cfg(debug_assertions)]
pub fn clock_shift() -> i64 {
    std::env::var("COFFER_TEST_CLOCK_SHIFT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Release builds: the clock is the clock.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn clock_shift() -> i64 {
    0
}

/// Paths a commit walks, or a checkout into an empty folder writes, per batch, from
/// `COFFER_TEST_BATCH` (debug builds only): tests cross batch boundaries with a handful of
/// files instead of a hundred thousand.
#[cfg(debug_assertions)]
pub fn batch(default: usize) -> usize {
    std::env::var("COFFER_TEST_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Release builds: the default batch.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn batch(default: usize) -> usize {
    default
}
