//! A new file is written without a name (O_TMPFILE) and gets its name
//! once complete (linkat): no temporary name appears beside it and none
//! is renamed (`confine/src/tmpfile.rs`, `engine::partial`). A file that
//! is replaced, or one kept as a partial file, still goes through a named
//! temporary. Where the kernel or filesystem cannot name a file by its
//! descriptor (the probe in the trace says so), every file goes through a
//! named temporary, as before. Checked on the system calls (strace -ff)
//! and on the tree that arrived, locally and pushed to a remote-shell
//! server, with and without incremental recursion; and a name that was
//! taken after the list was made (a batch replayed onto a changed tree)
//! is replaced as a temporary would replace it.
use super::util::{
    assert_same_tree, fix_dirs, oxsync_bin, put_mode, run, run_in, trace_lines, Scratch, Way,
};
use std::fs;
use std::path::Path;
use std::process::Command;

/// `src/` with an updated `old/a.txt` and new files, and `dst/` with the
/// older `old/a.txt`.
fn trees(s: &Scratch) {
    let (src, dst) = (s.path("src"), s.path("dst"));
    put_mode(&src, "old/a.txt", b"new contents", 0o644, 1_600_000_200);
    put_mode(&src, "old/added.txt", b"added", 0o640, 1_600_000_300);
    put_mode(&src, "new/fresh-1.txt", b"one", 0o600, 1_600_000_400);
    put_mode(&src, "new/sub/fresh-2.txt", b"two", 0o755, 1_600_000_500);
    fix_dirs(&src, 1_600_000_000);
    put_mode(&dst, "old/a.txt", b"old", 0o644, 1_500_000_000);
}

/// What the traced run did with names: those it created with O_CREAT,
/// the targets of its renames and links, and whether the probe found that
/// a file can be named by its descriptor.
#[derive(Debug, Default)]
struct Calls {
    created: Vec<String>,
    renamed_to: Vec<String>,
    linked_to: Vec<String>,
    names_by_fd: bool,
}

fn calls(prefix: &Path) -> Calls {
    let mut c = Calls::default();
    for line in trace_lines(prefix) {
        let names: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        let ok = line.contains(") = ") && !line.contains("= -1");
        if line.starts_with("linkat(") && names.first() == Some(&"") {
            if names.get(1) == Some(&".") {
                c.names_by_fd = line.contains("EEXIST");
            } else if ok {
                c.linked_to.push(names[1].to_string());
            }
        } else if line.starts_with("openat") && line.contains("O_CREAT") && ok {
            c.created.push(names[0].to_string());
        } else if line.starts_with("renameat") && ok {
            c.renamed_to
                .push(names.last().expect("rename target").to_string());
        }
    }
    c
}

fn traced(s: &Scratch, way: Way, opts: &[&str]) -> Calls {
    let prefix = s.path("trace/t");
    fs::create_dir_all(s.path("trace")).expect("mkdir");
    let (src, dst) = (s.path("src"), s.path("dst"));
    let cmd = way.command(
        s,
        opts,
        &[format!("{}/", src.display())],
        &format!("{}/", dst.display()),
    );
    let mut strace = Command::new("strace");
    strace
        .args([
            "-ff",
            "-qq",
            "-e",
            "trace=openat,openat2,renameat,renameat2,linkat",
        ])
        .arg("-o")
        .arg(&prefix)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    run(&mut strace, &s.logs()).assert_code(0);
    assert_same_tree(&src.join("new"), &dst.join("new"));
    assert_eq!(fs::read(dst.join("old/a.txt")).expect("a"), b"new contents");
    assert_eq!(fs::read(dst.join("old/added.txt")).expect("add"), b"added");
    calls(&prefix)
}

/// Whether this kernel and the scratch filesystem let a process name a
/// file it made with O_TMPFILE by its descriptor (what oxsync's probe asks).
fn kernel_names_by_fd(s: &Scratch) -> bool {
    use rustix::fs::{AtFlags, Mode, OFlags, CWD};
    let dir = rustix::fs::openat(
        CWD,
        s.root(),
        OFlags::PATH | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .expect("scratch dir");
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(&dir, ".", flags, Mode::from_raw_mode(0o600)) else {
        return false;
    };
    rustix::fs::linkat(&fd, "", &dir, ".", AtFlags::EMPTY_PATH) == Err(rustix::io::Errno::EXIST)
}

fn temp_of(created: &[String], name: &str) -> bool {
    let stem = format!(".{name}.");
    created.iter().any(|c| c.starts_with(&stem))
}

const NEW: [&str; 3] = ["added.txt", "fresh-1.txt", "fresh-2.txt"];

#[test]
fn new_files_get_their_name_once_complete() {
    for way in [Way::Local, Way::Push] {
        for inc in [true, false] {
            let s = Scratch::new();
            trees(&s);
            let mut opts = vec!["-a"];
            if !inc {
                opts.push("--no-inc-recursive");
            }
            let c = traced(&s, way, &opts);
            let what = format!("{way:?} inc={inc}: {c:?}");
            assert_eq!(c.names_by_fd, kernel_names_by_fd(&s), "{what}");
            // The replaced file goes through a named temporary.
            assert!(temp_of(&c.created, "a.txt"), "{what}");
            assert!(c.renamed_to.iter().any(|t| t == "a.txt"), "{what}");
            for name in NEW {
                let renamed = c.renamed_to.iter().any(|t| t == name);
                let linked = c.linked_to.iter().any(|t| t == name);
                if c.names_by_fd {
                    assert!(!temp_of(&c.created, name), "{name}: {what}");
                    assert!(linked && !renamed, "{name}: {what}");
                } else {
                    assert!(temp_of(&c.created, name) && renamed, "{name}: {what}");
                }
            }
        }
    }
}

#[test]
fn partial_files_keep_a_named_temporary() {
    for way in [Way::Local, Way::Push] {
        let s = Scratch::new();
        trees(&s);
        let c = traced(&s, way, &["-a", "--partial"]);
        for name in NEW {
            assert!(temp_of(&c.created, name), "{way:?} {name}: {c:?}");
            assert!(c.renamed_to.iter().any(|t| t == name), "{way:?} {name}");
            assert!(c.linked_to.is_empty(), "{way:?}: {c:?}");
        }
    }
}

/// A batch written against an empty destination says every file is new;
/// replayed onto a tree where those names now hold other files, each is
/// replaced (and backed up with -b), as a named temporary would be.
#[test]
fn a_name_taken_since_the_list_is_replaced() {
    let s = Scratch::new();
    trees(&s);
    let ox = oxsync_bin();
    run_in(&s, &ox, &["-a", "--write-batch=B", "src/", "d1/"]).assert_code(0);
    put_mode(&s.path("d2"), "new/fresh-1.txt", b"taken", 0o644, 1);
    put_mode(&s.path("d2"), "new/sub/fresh-2.txt", b"taken too", 0o644, 1);
    run_in(&s, &ox, &["-a", "-b", "--read-batch=B", "d2/"]).assert_code(0);
    for name in ["new/fresh-1.txt", "new/sub/fresh-2.txt", "old/a.txt"] {
        assert_eq!(
            fs::read(s.path("d2").join(name)).ok(),
            fs::read(s.path("d1").join(name)).ok(),
            "{name}"
        );
    }
    assert_eq!(
        fs::read(s.path("d2/new/fresh-1.txt~")).expect("backup"),
        b"taken"
    );
    assert_eq!(
        fs::read(s.path("d2/new/sub/fresh-2.txt~")).expect("backup"),
        b"taken too"
    );
    let left: Vec<_> = fs::read_dir(s.path("d2/new"))
        .expect("d2/new")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}
