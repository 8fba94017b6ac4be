//! `-C` given as a filter rule (`-f-C`, `-f:C`) and rules read from
//! standard input, as rsync 3.5.0 has them (exclude.c get_cvs_excludes(),
//! parse_filter_file()): a `-C` rule adds `$HOME/.cvsignore` and
//! `$CVSIGNORE` to the default list wherever it comes from, on the client
//! and on a remote-shell server that gets it from the client;
//! `--delete-excluded` makes those rules the sender's alone, so the
//! receiver deletes what they hide; both halves of a local copy see the
//! rules read from standard input. Each case runs oxsync and stock rsync
//! (both ends) side by side and compares what is left in the destination.
use super::util::{oxsync_bin, run, stock_bins, Scratch};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// src/d/{a.bak, b.junk, homex, keep}; `home/.cvsignore` hides `homex`.
fn tree(s: &Scratch) -> (PathBuf, PathBuf) {
    let (src, home) = (s.path("src"), s.path("home"));
    fs::create_dir_all(src.join("d")).expect("mkdir");
    fs::create_dir_all(&home).expect("mkdir");
    for n in ["a.bak", "b.junk", "homex", "keep"] {
        fs::write(src.join("d").join(n), n).expect("write");
    }
    fs::write(home.join(".cvsignore"), "homex\n").expect("write");
    (src, home)
}

/// A destination holding every file already (for the deletions).
fn filled(s: &Scratch, src: &Path, name: &str) -> PathBuf {
    let dest = s.path(name);
    fs::create_dir_all(dest.join("d")).expect("mkdir");
    for e in fs::read_dir(src.join("d")).expect("read") {
        let e = e.expect("entry");
        fs::copy(e.path(), dest.join("d").join(e.file_name())).expect("copy");
    }
    dest
}

fn left(dest: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dest.join("d"))
        .expect("read dest")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `bin` (both ends) copies `src/` to `dest/` locally, pushing or pulling
/// over the loopback remote shell, with `opts`, `HOME` and `CVSIGNORE`.
fn copy(s: &Scratch, bin: &Path, way: &str, opts: &[&str], home: &Path, src: &Path, dest: &Path) {
    let mut cmd = Command::new(bin);
    cmd.arg("-a").args(opts);
    cmd.env("HOME", home).env("CVSIGNORE", "*.junk");
    let (src, dest) = (
        format!("{}/", src.display()),
        format!("{}/", dest.display()),
    );
    match way {
        "local" => cmd.arg(&src).arg(&dest),
        "push" => cmd
            .arg("-e")
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", bin.display()))
            .arg(&src)
            .arg(format!("localhost:{dest}")),
        _ => cmd
            .arg("-e")
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", bin.display()))
            .arg(format!("localhost:{src}"))
            .arg(&dest),
    };
    let r = run(&mut cmd, &s.logs());
    assert_eq!(r.code, Some(0), "{}:\n{}", r.cmdline, r.stderr);
}

/// `-f:C -f-C --delete-excluded --delete-during` (upstream's exclude
/// test), locally, pushing and pulling: the defaults (`*.bak`), the
/// home file's `homex` and `$CVSIGNORE`'s `*.junk` are hidden by the
/// sender and deleted by the receiver, as stock rsync does. oxsync-s8d
/// kept all three (local), or the two from the environment (pull).
#[test]
fn cvs_rule_hides_home_and_env_patterns_and_deletes_them() {
    let opts = ["-f:C", "-f-C", "--delete-excluded", "--delete-during"];
    left_as_stock(&opts, &["keep"]);
}

/// Without `--delete-excluded` the same rule protects what it hides from
/// `--delete` on the receiving side, the client's or the server's.
#[test]
fn cvs_rule_protects_what_it_hides_from_delete() {
    left_as_stock(&["-f-C", "--delete"], &["a.bak", "b.junk", "homex", "keep"]);
}

/// Into a destination holding every file, locally, pushing and pulling
/// with `opts`: oxsync leaves `want`, and each stock rsync the same.
fn left_as_stock(opts: &[&str], want: &[&str]) {
    let s = Scratch::new();
    let (src, home) = tree(&s);
    for way in ["local", "push", "pull"] {
        let ours = filled(&s, &src, &format!("ox-{way}"));
        copy(&s, &oxsync_bin(), way, opts, &home, &src, &ours);
        assert_eq!(left(&ours), want, "{way}: oxsync");
        for (i, stock) in stock_bins().iter().enumerate() {
            let theirs = filled(&s, &src, &format!("stock{i}-{way}"));
            copy(&s, stock, way, opts, &home, &src, &theirs);
            assert_eq!(left(&theirs), want, "{way}: {}", stock.display());
        }
    }
}

/// `--exclude-from=-` and `-f 'merge_-'` in a local copy with `--delete`:
/// the sender leaves `keep` out and the receiver, which reads the same
/// rules, does not delete the `keep` already there (oxsync-s8d's two
/// halves raced for standard input: the one that lost had no rules, and
/// `keep` was sent).
#[test]
fn rules_from_standard_input_reach_both_halves_of_a_local_copy() {
    let s = Scratch::new();
    let (src, _) = tree(&s);
    let fresh = s.path("fresh");
    for rule in ["--exclude-from=-", "--filter=merge_-"] {
        for (i, bin) in std::iter::once(oxsync_bin())
            .chain(stock_bins())
            .enumerate()
        {
            let _ = fs::remove_dir_all(&fresh);
            let kept = filled(&s, &src, &format!("kept-{i}{}", rule.len()));
            fs::remove_file(kept.join("d/a.bak")).expect("rm");
            for dest in [&fresh, &kept] {
                let line = format!(
                    "printf -- '- keep\\n' | {} -a --delete {rule} {}/ {}/",
                    bin.display(),
                    src.display(),
                    dest.display()
                );
                let r = run(Command::new("/bin/sh").arg("-c").arg(&line), &s.logs());
                assert_eq!(r.code, Some(0), "{line}:\n{}", r.stderr);
            }
            let who = bin.display();
            assert_eq!(
                left(&fresh),
                ["a.bak", "b.junk", "homex"],
                "{who} {rule}: sent keep"
            );
            assert_eq!(
                left(&kept),
                ["a.bak", "b.junk", "homex", "keep"],
                "{who} {rule}: deleted keep"
            );
        }
    }
}
