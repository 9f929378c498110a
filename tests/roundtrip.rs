//! Property test: random folders (empty and multi-chunk files, deep nesting, Unicode names,
//! many small files, links, empty folders) come back byte for byte through commit + checkout.

mod util;

use proptest::prelude::*;
use util::*;

#[derive(Debug, Clone)]
enum Node {
    File(usize, u64, bool),
    Dir(Vec<(String, Node)>),
    Link(String),
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}(\\.csv)?",
        "[à-ÿ]{1,4}",
        Just("données é 🚀".to_string()),
        Just("Ω≈ç√".to_string()),
        Just(" spaced name ".to_string()),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        4 => (prop_oneof![Just(0usize), 1usize..200, 200usize..70_000, Just(2_500_000usize)], any::<u64>(), any::<bool>())
            .prop_map(|(n, s, x)| Node::File(n, s, x)),
        1 => "[a-z]{1,5}".prop_map(Node::Link),
    ];
    leaf.prop_recursive(6, 40, 8, |inner| {
        proptest::collection::btree_map(name(), inner, 0..8)
            .prop_map(|m| Node::Dir(m.into_iter().collect()))
    })
}

fn build(dir: &std::path::Path, entries: &[(String, Node)]) {
    use std::os::unix::fs::PermissionsExt;
    for (n, node) in entries {
        let p = dir.join(n);
        match node {
            Node::File(len, seed, exec) => {
                std::fs::write(&p, noise(*len, *seed)).unwrap();
                let mode = if *exec { 0o755 } else { 0o644 };
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            Node::Dir(sub) => {
                std::fs::create_dir(&p).unwrap();
                build(&p, sub);
            }
            Node::Link(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn random_trees_round_trip(tree in proptest::collection::btree_map(name(), node(), 0..10)) {
        let e = Env::new();
        let entries: Vec<(String, Node)> = tree.into_iter().collect();
        build(&e.data, &entries);
        // Many small files too.
        for i in 0..300 {
            e.write(&format!("many/{i:03}.csv"), format!("{i}\n").as_bytes());
        }
        e.ok(&["init"]);
        e.ok(&["commit", "-m", "random"]);
        let out = e.tmp.path().join("out");
        e.ok(&["checkout", "HEAD", "--to", out.to_str().unwrap()]);
        prop_assert_eq!(snapshot(&out), snapshot(&e.data));
        prop_assert!(e.ok(&["verify"]).contains("ok: no problems found"));
    }
}
