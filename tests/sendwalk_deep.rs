//! The sender's walk holds the descriptor of each directory it is listing
//! while it walks the subdirectories it meets there, but only so many at
//! once: a tree deeper than the process may open descriptors is still
//! sent whole (a directory whose descriptor was closed meanwhile is opened
//! again, beneath its transfer root, for the names after the subdirectory).
use super::util::{assert_same_tree, oxsync_bin, put, run, Scratch, T0};
use std::process::Command;

/// Levels of the tree: more than the descriptor limit the sender runs
/// under below.
const DEPTH: usize = 150;

#[test]
fn a_tree_deeper_than_the_descriptor_limit_is_sent_whole() {
    let s = Scratch::new();
    let src = s.path("src");
    let mut rel = String::new();
    for level in 0..DEPTH {
        // A name before and after the subdirectory `d`: the one after is
        // stat'ed once the walk is back from below.
        put(
            &src,
            &format!("{rel}a"),
            format!("a{level}\n").as_bytes(),
            T0,
        );
        put(
            &src,
            &format!("{rel}z"),
            format!("z{level}\n").as_bytes(),
            T0,
        );
        rel.push_str("d/");
    }
    put(&src, &format!("{rel}leaf"), b"bottom\n", T0);
    for extra in [&["--no-inc-recursive"][..], &[]] {
        let dest = s.path(&format!("dest{}", extra.len()));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"ulimit -n 100 && exec "$@""#)
            .arg("sh")
            .arg(oxsync_bin())
            .arg("-a")
            .args(extra)
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dest.display()));
        let r = run(&mut cmd, &s.logs());
        assert_eq!(r.code, Some(0), "{extra:?}\n{}", r.stderr);
        assert!(r.stderr.is_empty(), "{extra:?}: {}", r.stderr);
        assert_same_tree(&src, &dest);
        let bottom = dest.join(rel.as_str()).join("leaf");
        assert_eq!(std::fs::read(&bottom).expect("leaf"), b"bottom\n");
        assert_eq!(
            std::fs::read(dest.join("d/d/z")).expect("z after the subdirectory"),
            b"z2\n"
        );
    }
}
