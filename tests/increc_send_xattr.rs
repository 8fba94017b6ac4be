//! Incremental recursion with oxsync SENDING `-X`/`-XX` (and `-XA`): each
//! entry's xattrs go out with it in whichever list it is in, numbered
//! across the whole transfer, so an identical set in a later list goes as
//! a reference to the list an earlier one brought; the sender answers the
//! receiving side's requests for long (abbreviated) values of entries of
//! any list (upstream xattrs.c send_xattr(), rsync_xal_l,
//! find_matching_xattr(), recv_xattr_request()). To stock receivers
//! (3.2.7 and 3.5.0 when built): oxsync pushing to stock `rsync --server`
//! and stock clients pulling from `oxsync --server`; and oxsync to oxsync
//! locally. The tree (tests/increc_xattr_acl.rs) has xattrs in every
//! directory: values over 32 bytes, one identical set on a file of every
//! directory, a long value on each directory; the destination is stale
//! (long values to replace, so the receiving side asks for them; a name to
//! remove). Each run is compared with stock rsync sending the same into an
//! identical destination: exit code, sorted itemize lines, the tree,
//! `getfattr` (and `getfacl`) of every item; and the stock receiver's
//! `--debug=FLIST3` lines show one list per directory, as with a stock
//! sender (an oxsync sending one whole list with -X gets one).
use crate::increc_xattr_acl::{acls_of, debug_wrapper, dir_count, make_src, make_stale, xattrs_of};
use crate::util::*;
use std::path::Path;
use std::process::Command;

/// The lists the receiving side got (its `--debug=FLIST3` lines).
fn received_lists(r: &Run) -> usize {
    (r.stdout.lines().chain(r.stderr.lines()))
        .filter(|l| {
            l.to_ascii_lowercase()
                .starts_with("[receiver] flist start=")
        })
        .count()
}

/// One transfer of `src/` into `dst/`: `sender` sends; with `push` it is
/// the client and `receiver` the `--server` (run with `--debug=FLIST3`),
/// else `receiver` is the client (with `--debug=FLIST3`) pulling.
fn transfer(
    s: &Scratch,
    sender: &Path,
    receiver: &Path,
    push: bool,
    opts: &[&str],
    dst: &Path,
) -> Run {
    let src = format!("{}/", s.path("src").display());
    let dst = format!("{}/", dst.display());
    let mut c = Command::new(if push { sender } else { receiver });
    c.args(opts).arg("-e").arg(s.rsh());
    if push {
        c.arg(format!(
            "--rsync-path={}",
            debug_wrapper(s, receiver).display()
        ))
        .arg(src)
        .arg(format!("host:{dst}"));
    } else {
        c.arg("--debug=FLIST3")
            .arg(format!("--rsync-path={}", sender.display()))
            .arg(format!("host:{src}"))
            .arg(dst);
    }
    run(&mut c, &s.logs())
}

/// The oxsync sender's result is the stock sender's: exit codes, itemize
/// lines, trees, xattrs (and ACLs); with `lists`, one list per directory
/// arrived.
fn assert_agree(label: &str, s: &Scratch, ours: &Run, theirs: &Run, acls: bool, lists: bool) {
    let (src, dst, stock_dst) = (s.path("src"), s.path("dst"), s.path("stock"));
    ours.assert_code(0);
    theirs.assert_code(0);
    if lists {
        assert_eq!(
            received_lists(theirs),
            dir_count(&src),
            "{label}: stock run\n{}",
            theirs.stdout
        );
        assert_eq!(
            received_lists(ours),
            dir_count(&src),
            "{label}: not one list per directory (no incremental recursion)\n{}",
            ours.stdout
        );
    }
    if let Some(diff) = itemize_diff(ours, theirs) {
        panic!("{label}: itemize lines differ from stock rsync's:\n{diff}");
    }
    // A long value the receiving side had to ask for, in a later list
    // (also in a set sent once and then referred to); a new file.
    let items = ours.itemized();
    for (k, flag, name) in [
        (10, 'x', "d0/s1/f0"),
        (10, 'x', "d3/s2/same"),
        (2, '+', "d2/s2/f3"),
    ] {
        let hit = |l: &String| l.ends_with(&format!(" {name}")) && l.chars().nth(k) == Some(flag);
        assert!(items.iter().any(hit), "{label}: {name}\n{items:#?}");
    }
    assert_same_tree(&src, &dst);
    let mine = xattrs_of(&dst);
    assert_eq!(
        mine,
        xattrs_of(&stock_dst),
        "{label}: xattrs differ from stock rsync's"
    );
    let keep = |d: &str| {
        d.lines()
            .filter(|l| !l.starts_with("user.rsync.%stat"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keep(&mine),
        keep(&xattrs_of(&src)),
        "{label}: xattrs differ from the source's"
    );
    assert_eq!(
        mine.contains("user.rsync.%stat"),
        label.contains("-aXX"),
        "{label}"
    );
    assert!(mine.contains("user.same="), "{label}: {mine}");
    if acls {
        let got = acls_of(&dst);
        assert_eq!(
            got,
            acls_of(&stock_dst),
            "{label}: ACLs differ from stock rsync's"
        );
        assert_eq!(got, acls_of(&src), "{label}: ACLs differ from the source's");
    }
}

/// A fresh source and two identical stale destinations.
fn setup(acls: bool) -> Scratch {
    let s = Scratch::new();
    make_src(&s.path("src"), true, acls);
    make_stale(&s.path("dst"), true, acls, false);
    make_stale(&s.path("stock"), true, acls, false);
    s
}

/// oxsync sends with `opts`, pushing to and pulled by every stock binary,
/// and to itself locally.
fn send_all_ways(opts: &[&str]) {
    let acls = opts.iter().any(|o| o.contains('A'));
    let ours = oxsync_bin();
    for stock in stock_bins() {
        for push in [true, false] {
            let s = setup(acls);
            let label = format!(
                "{} {} {}",
                opts.join(" "),
                if push { "push to" } else { "pull by" },
                stock.display()
            );
            let a = transfer(&s, &ours, &stock, push, opts, &s.path("dst"));
            let b = transfer(&s, &stock, &stock, push, opts, &s.path("stock"));
            assert_agree(&label, &s, &a, &b, acls, true);
        }
    }
    // oxsync to oxsync on one machine, as stock rsync does it locally.
    let s = setup(acls);
    let src = format!("{}/", s.path("src").display());
    let mut runs = Vec::new();
    for (bin, dst) in [(ours, "dst"), (rsync_bin(), "stock")] {
        let mut c = Command::new(bin);
        c.args(opts)
            .arg("-v")
            .arg(&src)
            .arg(format!("{}/", s.path(dst).display()));
        runs.push(run(&mut c, &s.logs()));
    }
    let label = format!("{} local", opts.join(" "));
    assert_agree(&label, &s, &runs[0], &runs[1], acls, false);
    // Both say they send incrementally (the old oxsync sent one list).
    let first = |r: &Run| r.stdout.lines().next().unwrap_or_default().to_string();
    assert_eq!(first(&runs[1]), "sending incremental file list", "{label}");
    assert_eq!(first(&runs[0]), first(&runs[1]), "{label}");
}

/// `-aX`: user and trusted names, long values asked for, shared sets.
#[test]
fn send_xattrs_incremental() {
    send_all_ways(&["-aXi"]);
}

/// `-aXX`: rsync's own `user.rsync.%stat` travels too.
#[test]
fn send_xx_incremental() {
    send_all_ways(&["-aXXi"]);
}

/// `-aXA`: each entry's ACLs, then its xattrs, in its list.
#[test]
fn send_xattrs_and_acls_incremental() {
    send_all_ways(&["-aXAi"]);
}

/// A stock client pulls `-aXAi` from an oxsync daemon module (its sources
/// read beneath the module's root): the same as stock rsync sending, one
/// list per directory.
#[test]
fn daemon_sends_xattrs_incremental() {
    for stock in stock_bins() {
        let d = crate::daemon::start(&oxsync_bin(), "[mod]\npath = %ROOT%/mod\nfake super = no\n");
        let module = crate::daemon::root(&d).join("mod");
        make_src(&module, true, true);
        let s = setup(true);
        let opts = ["-aXAi"];
        let ours = run(
            Command::new(&stock)
                .args(opts)
                .arg("--debug=FLIST3")
                .arg(crate::daemon::url(&d, "mod/"))
                .arg(format!("{}/", s.path("dst").display())),
            &s.logs(),
        );
        let theirs = transfer(&s, &stock, &stock, false, &opts, &s.path("stock"));
        assert_eq!(xattrs_of(&module), xattrs_of(&s.path("src")), "sources");
        let label = format!("-aXAi daemon pull by {}", stock.display());
        assert_agree(&label, &s, &ours, &theirs, true, true);
    }
}
