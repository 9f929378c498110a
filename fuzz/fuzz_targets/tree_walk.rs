//! A hostile set of trees walked as a reader walks a version: decoded, counted (each
//! distinct folder once, bounded in depth and paths) and, when small enough, expanded with
//! every link checked. Input: trees separated by the byte 0xff; the first is the root,
//! and a folder entry names the tree whose index is the first byte of its id.
#![no_main]
use coffer::object::tree::{self, Entry};
use coffer::Id;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let parts: Vec<&[u8]> = data.split(|b| *b == 0xff).collect();
    if parts.is_empty() {
        return;
    }
    let load = |id: &Id| -> coffer::Result<Vec<Entry>> {
        let part = parts
            .get(id.0[0] as usize % parts.len())
            .copied()
            .unwrap_or_default();
        tree::decode(id, part)
    };
    let root = Id([0; 32]);
    let Ok(n) = coffer::repo::read::count_paths(&root, &mut |id| load(id)) else {
        return;
    };
    if n > 10_000 {
        return;
    }
    // Expand and check links, as checkout does.
    let mut flat: Vec<(String, Entry)> = Vec::new();
    let mut stack = vec![(root, String::new(), 0usize)];
    while let Some((id, prefix, depth)) = stack.pop() {
        if depth > coffer::repo::read::MAX_DEPTH {
            return;
        }
        let Ok(entries) = load(&id) else { return };
        for e in entries {
            let path = if prefix.is_empty() {
                e.name().to_string()
            } else {
                format!("{prefix}/{}", e.name())
            };
            if e.kind() == tree::DIR {
                stack.push((e.ids()[0], path.clone(), depth + 1));
            }
            flat.push((path, e));
        }
    }
    let links: HashSet<&str> = flat
        .iter()
        .filter(|(_, e)| e.kind() == tree::SYMLINK)
        .map(|(p, _)| p.as_str())
        .collect();
    for (p, e) in &flat {
        if e.kind() == tree::SYMLINK {
            let _ = coffer::repo::checkout::link_is_safe(p, e.target(), &links);
        }
    }
});
