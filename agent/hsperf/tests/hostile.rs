//! A hostile container root: symlinks out of it, FIFOs, devices, huge,
//! truncated and garbage files. Everything is refused or reported, nothing
//! outside the root is opened, nothing hangs or panics.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use kroll_hsperf::locate::find_in_root;
use kroll_hsperf::safe_open::open_root;
use kroll_hsperf::{
    AccessError, ProbeOptions, Resolve, Unreadable, read_file_in_root, read_nspid_in_root,
};
use rustix::fs::inotify;

const REL: &str = "tmp/hsperfdata_x/1";
const MODES: [Resolve; 3] = [Resolve::Auto, Resolve::Openat2, Resolve::PerComponent];

fn real_file() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jdk17-g1.hsperf"))
        .expect("captured file")
}

/// A host file standing in for `/etc/shadow`: valid hsperfdata, so reading
/// it would have *succeeded*; and an inotify watch that sees any open.
struct Secret {
    _dir: tempfile::TempDir,
    path: PathBuf,
    watch: OwnedFd,
}

impl Secret {
    fn new() -> Secret {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shadow");
        std::fs::write(&path, real_file()).expect("write secret");
        let watch = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)
            .expect("inotify");
        let mask = inotify::WatchFlags::OPEN | inotify::WatchFlags::ACCESS;
        inotify::add_watch(&watch, &path, mask).expect("watch");
        Secret {
            _dir: dir,
            path,
            watch,
        }
    }

    /// True when anything opened or read the file since the watch began.
    fn touched(&self) -> bool {
        let mut buf = [0u8; 4096];
        let mut f = File::from(self.watch.try_clone().expect("dup"));
        matches!(f.read(&mut buf), Ok(n) if n > 0)
    }
}

fn options(how: Resolve) -> ProbeOptions {
    ProbeOptions {
        resolve: how,
        ..ProbeOptions::default()
    }
}

fn read(root: &Path, how: Resolve) -> Result<kroll_hsperf::HeapSample, Unreadable> {
    read_file_in_root(root, Path::new(REL), &options(how))
}

fn fake_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("tmp/hsperfdata_x")).expect("mkdir");
    root
}

fn assert_symlink_refused(root: &Path, secret: &Secret, what: &str) {
    for how in MODES {
        let res = read(root, how);
        assert!(
            matches!(
                res,
                Err(Unreadable::NotAccessible(AccessError::Symlink { .. }))
            ),
            "{what} ({how:?}): {res:?}"
        );
        let fd = open_root(root).expect("open root");
        let found = find_in_root(fd.as_fd(), 1, None, how);
        assert!(found.is_err(), "{what} ({how:?}) located: {found:?}");
    }
    assert!(
        !secret.touched(),
        "{what}: the target outside the root was opened"
    );
}

#[test]
fn symlinked_file_to_a_host_file_is_refused_and_never_opened() {
    let secret = Secret::new();
    let root = fake_root();
    symlink(&secret.path, root.path().join(REL)).expect("plant symlink");
    assert_symlink_refused(root.path(), &secret, "file symlink");
    let mut positive_control = Vec::new();
    File::open(&secret.path)
        .and_then(|mut f| f.read_to_end(&mut positive_control))
        .expect("read secret");
    assert!(secret.touched(), "the inotify watch works");
}

#[test]
fn symlinked_tmp_or_hsperfdata_dir_is_refused() {
    let secret = Secret::new();
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(outside.path().join("hsperfdata_x")).expect("mkdir");
    symlink(&secret.path, outside.path().join("hsperfdata_x/1")).expect("link");
    std::fs::write(outside.path().join("plain"), real_file()).expect("write");

    let root = tempfile::tempdir().expect("tempdir");
    symlink(outside.path(), root.path().join("tmp")).expect("tmp symlink");
    assert_symlink_refused(root.path(), &secret, "tmp symlink");

    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(root.path().join("tmp")).expect("mkdir");
    symlink(
        outside.path().join("hsperfdata_x"),
        root.path().join("tmp/hsperfdata_x"),
    )
    .expect("dir symlink");
    assert_symlink_refused(root.path(), &secret, "hsperfdata dir symlink");

    let root = fake_root();
    symlink(
        "../../../../../../../../proc/self/root/etc/passwd",
        root.path().join(REL),
    )
    .expect("relative link");
    assert_symlink_refused(root.path(), &secret, "relative escape symlink");
}

/// Runs `f` on a thread and fails the test if it takes more than 5 s.
fn within_5s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("hung on a hostile file")
}

fn assert_not_regular(root: tempfile::TempDir, kind: &'static str) {
    for how in MODES {
        let path = root.path().to_path_buf();
        let res = within_5s(move || read(&path, how));
        assert!(
            matches!(&res, Err(Unreadable::NotAccessible(AccessError::NotRegular { kind: k, .. })) if *k == kind),
            "{kind} ({how:?}): {res:?}"
        );
    }
}

#[test]
fn fifo_directory_and_device_are_refused_without_hanging() {
    let root = fake_root();
    let dir = rustix::fs::open(
        root.path(),
        rustix::fs::OFlags::DIRECTORY,
        rustix::fs::Mode::empty(),
    )
    .expect("dir");
    let mode = rustix::fs::Mode::from_raw_mode(0o600);
    rustix::fs::mknodat(&dir, REL, rustix::fs::FileType::Fifo, mode, 0).expect("mkfifo");
    assert_not_regular(root, "FIFO");

    let root = fake_root();
    std::fs::create_dir(root.path().join(REL)).expect("mkdir");
    assert_not_regular(root, "directory");

    // /dev/null's numbers: opening a planted device could have side effects
    // (think /dev/watchdog); it is classified from an O_PATH fd instead.
    let root = fake_root();
    let dir = rustix::fs::open(
        root.path(),
        rustix::fs::OFlags::DIRECTORY,
        rustix::fs::Mode::empty(),
    )
    .expect("dir");
    let dev = rustix::fs::makedev(1, 3);
    rustix::fs::mknodat(&dir, REL, rustix::fs::FileType::CharacterDevice, mode, dev)
        .expect("mknod (needs root)");
    assert_not_regular(root, "character device");
}

#[test]
fn huge_file_is_refused_without_reading_it() {
    let root = fake_root();
    let f = File::create(root.path().join(REL)).expect("create");
    f.set_len(8 << 30).expect("sparse 8 GiB");
    let path = root.path().to_path_buf();
    let res = within_5s(move || read(&path, Resolve::Auto));
    assert!(
        matches!(res, Err(Unreadable::NotAccessible(AccessError::TooLarge { size, .. })) if size == 8 << 30),
        "{res:?}"
    );
}

#[test]
fn truncated_oversized_and_garbage_files_are_errors_not_panics() {
    let good = real_file();
    let root = fake_root();
    let file = root.path().join(REL);
    let used =
        usize::try_from(u32::from_le_bytes(good[8..12].try_into().expect("4"))).expect("used");
    for len in [0, 3, 31, 32, 33, 64, 1000, used / 2, used - 1] {
        std::fs::write(&file, &good[..len]).expect("write");
        let res = read(root.path(), Resolve::Auto);
        assert!(
            matches!(res, Err(Unreadable::Garbage(_))),
            "truncated to {len}: {res:?}"
        );
    }
    // The JVM's buffer is larger than the part in use; cutting only the
    // unused tail loses nothing.
    std::fs::write(&file, &good[..used]).expect("write");
    assert!(read(root.path(), Resolve::Auto).is_ok());
    let mut oversized = good.clone();
    oversized.resize(2 << 20, 0xa5);
    std::fs::write(&file, &oversized).expect("write");
    let res = read(root.path(), Resolve::Auto);
    assert!(
        matches!(
            res,
            Err(Unreadable::NotAccessible(AccessError::TooLarge { .. }))
        ),
        "{res:?}"
    );
    let big_cap = ProbeOptions {
        size_cap: 4 << 20,
        ..ProbeOptions::default()
    };
    let res = read_file_in_root(root.path(), Path::new(REL), &big_cap);
    assert!(res.is_ok(), "bytes past `used` are ignored: {res:?}");

    let garbage: Vec<u8> = (0..32768u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &garbage).expect("write");
    let res = read(root.path(), Resolve::Auto);
    let msg = res
        .as_ref()
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert!(msg.starts_with("garbage: bad magic number"), "{msg}");
    assert!(msg.ends_with("at byte offset 0"), "{msg}");
}

#[test]
fn fake_container_root_is_searched_by_nspid() {
    let root = tempfile::tempdir().expect("tempdir");
    for user in ["kafka", "zk"] {
        std::fs::create_dir_all(root.path().join(format!("tmp/hsperfdata_{user}"))).expect("mkdir");
    }
    std::fs::write(root.path().join("tmp/hsperfdata_kafka/1"), real_file()).expect("write");
    for how in MODES {
        let s = read_nspid_in_root(root.path(), 1, None, &options(how)).expect("found by nspid");
        assert_eq!(s.max, Some(64 << 20));
        let missing = read_nspid_in_root(root.path(), 2, None, &options(how));
        assert!(
            matches!(
                missing,
                Err(Unreadable::NotAccessible(AccessError::NotFound { .. }))
            ),
            "{missing:?}"
        );
    }
    let secret = Secret::new();
    symlink(&secret.path, root.path().join("tmp/hsperfdata_zk/3")).expect("plant");
    let res = read_nspid_in_root(root.path(), 3, None, &options(Resolve::Auto));
    assert!(
        matches!(
            res,
            Err(Unreadable::NotAccessible(AccessError::Symlink { .. }))
        ),
        "{res:?}"
    );
    assert!(!secret.touched());
}
