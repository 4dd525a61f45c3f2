#!/bin/bash
# t/70-crashfs.t - the crash-test file system t/tools/crashfs itself: what a
# cut keeps (only what fsync made durable: a file's data by fsync of the
# file, a name by fsync of its directory, a rename by fsync of both), the
# control file and cut_at, EIO after a cut, a clean unmount keeping all,
# and what mta needs of it (O_EXCL, O_APPEND, renameat2, OFD and flock
# locks, inotify, many threads at once).  Each case runs in a new backing
# directory; after the cut and unmount, the backing directory is listed.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/crashfs.sh"
crashfs_skip_unless_fuse
plan 37

# listing DIR - every entry under DIR, sorted, one a line: "d name" for a
# directory, "f name=content" for a file
listing() {
	(cd "$1" && find . -mindepth 1 | sort | while read -r p; do
		if [ -d "$p" ]; then echo "d ${p#./}"
		else echo "f ${p#./}=$(cat "$p")"; fi
	done)
}

# py SCRIPT - run a python script in $M, with helpers: put(name, data,
# sync=False, flags) and dsync(dir)
py() {
	(cd "$M" && $PY -c '
import os, sys
def put(name, data, sync=False, flags=os.O_CREAT | os.O_EXCL):
    fd = os.open(name, os.O_WRONLY | flags, 0o600)
    os.write(fd, data.encode())
    if sync: os.fsync(fd)
    os.close(fd)
def dsync(d="."):
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd); os.close(fd)
exec(sys.argv[1])
' "$@")
}

# scenario NAME SCRIPT WANT - mount, run SCRIPT, cut, unmount, compare
scenario() {
	fs_mount || { ok 1 "$1"; return; }
	py "$2" || diag "script failed: $1"
	fs_cut
	fs_umount
	is "$(listing "$B")" "$3" "$1"
}

nl='
'
# --- the contract --------------------------------------------------------
scenario "a file written without any fsync is absent after a cut" \
	'put("a", "data")' ""
scenario "a file whose name was synced but not its data is empty" \
	'put("a", "data"); dsync()' "f a="
scenario "fsync of the file but not of the directory: the new name is absent" \
	'put("a", "data", sync=True)' ""
scenario "fsync of file and directory: name and data survive" \
	'put("a", "data", sync=True); dsync()' "f a=data"
scenario "a rename without directory fsync: the old name is back" \
	'put("a", "x", sync=True); dsync(); os.rename("a", "b")' "f a=x"
scenario "a rename with directory fsync: the new name only" \
	'put("a", "x", sync=True); dsync(); os.rename("a", "b"); dsync()' "f b=x"
scenario "a rename across directories, only the target synced: both names" \
	'os.mkdir("s"); os.mkdir("t"); dsync(); put("s/a", "x", sync=True); dsync("s")
os.rename("s/a", "t/a"); dsync("t")' "d s${nl}f s/a=x${nl}d t${nl}f t/a=x"
scenario "a rename across directories, only the source synced: neither name" \
	'os.mkdir("s"); os.mkdir("t"); dsync(); put("s/a", "x", sync=True); dsync("s")
os.rename("s/a", "t/a"); dsync("s")' "d s${nl}d t"
scenario "a rename across directories, both synced: the new name only" \
	'os.mkdir("s"); os.mkdir("t"); dsync(); put("s/a", "x", sync=True); dsync("s")
os.rename("s/a", "t/a"); dsync("s"); dsync("t")' "d s${nl}d t${nl}f t/a=x"
scenario "an overwrite without fsync: the durable content is back" \
	'put("a", "old data", sync=True); dsync()
fd = os.open("a", os.O_WRONLY); os.write(fd, b"NEW"); os.close(fd)' "f a=old data"
scenario "an append without fsync is cut off; one with fsync stays" \
	'put("a", "1", sync=True); dsync(); put("a", "2", True, os.O_APPEND)
put("a", "3", False, os.O_APPEND)' "f a=12"
scenario "O_TRUNC and ftruncate without fsync: the durable content is back" \
	'put("a", "keep", sync=True); put("b", "this too", sync=True); dsync()
put("a", "x", False, os.O_TRUNC); os.truncate("b", 2)' "f a=keep${nl}f b=this too"
scenario "an unlink without directory fsync: the file is back, with its data" \
	'put("a", "here", sync=True); dsync(); os.unlink("a")' "f a=here"
scenario "an unlink with directory fsync: gone" \
	'put("a", "here", sync=True); dsync(); os.unlink("a"); dsync()' ""
scenario "a rename over a file without fsync: the old target is back" \
	'put("a", "new", sync=True); put("b", "old", sync=True); dsync()
os.rename("a", "b")' "f a=new${nl}f b=old"
scenario "a new directory synced, its parent not: absent" \
	'os.mkdir("d"); put("d/a", "x", sync=True); dsync("d")' ""
scenario "a hard link synced, the first name removed and synced: the data stays" \
	'put("a", "x", sync=True); os.link("a", "b"); os.unlink("a"); dsync()' "f b=x"
scenario "rmdir without fsync: the directory is back with its durable entries" \
	'os.mkdir("d"); dsync(); put("d/a", "x", sync=True); dsync("d"); os.unlink("d/a")
os.rmdir("d")' "d d${nl}f d/a=x"

# --- what existed before the mount is durable; a clean unmount keeps all ---
fs_mount
echo before >"$B/pre"
py 'put("a", "x")' 2>/dev/null
fs_umount
is "$(listing "$B")" "f a=x${nl}f pre=before" "a clean unmount without a cut keeps everything, no .crashfs left"
fs_mount
echo -n durable >"$B/pre"
py 'os.unlink("pre"); put("pre", "new")'
fs_cut
fs_umount
is "$(listing "$B")" "f pre=durable" "what existed at mount time is durable"

# --- the control file, cut_at, EIO after the cut ---------------------------
fs_mount
py 'put("a", "1", sync=True); dsync()'
like "$(cat "$M/.crashfs-ctl")" "^points 2${nl}cut 0$" "the control file counts durability points"
out=$(py 'put("b", "2", sync=True)' 2>&1)
fs_cut
like "$(cat "$M/.crashfs-ctl")" "cut 1" "the control file tells the cut"
ls "$M/a" >/dev/null 2>"$T/ls.err"
like "$(cat "$T/ls.err")" "Input/output error" "after the cut the mount answers EIO"
fs_umount
is "$(listing "$B")" "f a=1" "the cut kept what was durable"

fs_mount -o cut_at=3
out=$(py '
put("a", "1", sync=True)   # point 1
dsync()                    # point 2
fd = os.open("b", os.O_WRONLY | os.O_CREAT, 0o600); os.write(fd, b"2")
try:
    os.fsync(fd)           # point 3: the cut
    print("fsync ok")
except OSError as e:
    print("fsync:", e.strerror)
try:
    dsync()
except OSError as e:
    print("then:", e.strerror)
' 2>&1)
is "$out" "fsync: Input/output error${nl}then: Input/output error" \
	"cut_at=3: the third durability call fails with EIO, and all after it"
fs_umount
is "$(listing "$B")" "f a=1" "cut_at=3: what the first two made durable, nothing else"

fs_mount
py 'put("a", "1", sync=True)'
echo "cut-at 3" >"$M/.crashfs-ctl"
py 'dsync()
try: dsync()
except OSError: pass'
fs_umount
is "$(listing "$B")" "f a=1" "'cut-at N' written to the control file counts from the mount"

# a rename a/x -> b/x, a synced at the moment of the cut, the cut at b's
# fsync: the removal from a/ is durable, the arrival in b/ is not
fs_mount
py 'os.mkdir("a"); os.mkdir("b"); put("a/x", "1", sync=True); dsync("a"); dsync()'
echo "cut-at-fsync b" >"$M/.crashfs-ctl"
echo "sync-at-cut a" >"$M/.crashfs-ctl"
py 'os.rename("a/x", "b/x")
try: dsync("b")
except OSError: print("EIO")' >"$T/out.race"
fs_umount
is "$(cat "$T/out.race"); $(listing "$B" | tr '\n' ' ')" "EIO; d a d b " \
	"'cut-at-fsync DIR' cuts at DIR's next fsync, 'sync-at-cut DIR' syncs DIR first"

# --- what mta needs of it ---------------------------------------------------
fs_mount
out=$(py '
import ctypes, fcntl, struct, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
put("a", "x")
try:
    put("a", "y"); print("O_EXCL: created twice")
except FileExistsError:
    print("O_EXCL ok")
put("b", "z")
r = libc.renameat2(-100, b"a", -100, b"b", 1)   # RENAME_NOREPLACE
print("noreplace", r, os.strerror(ctypes.get_errno()))
# OFD lock held here, tried by another process
fd = os.open("b", os.O_RDWR)
fcntl.fcntl(fd, 37, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))  # F_OFD_SETLK
fcntl.flock(os.open("a", os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)
r = subprocess.run([sys.executable, "-c", """
import fcntl, os, struct
fd = os.open("b", os.O_RDWR)
try:
    fcntl.fcntl(fd, 37, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)); print("taken")
except OSError as e:
    print("refused")
try:
    fcntl.flock(os.open("a", os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB); print("flock taken")
except OSError:
    print("flock refused")
"""], capture_output=True, text=True).stdout
print(r.strip().replace("\n", " "))
# O_APPEND from many threads: nothing lost, nothing overwritten
def app(c):
    for i in range(50):
        put("mbox", c * 10, False, os.O_APPEND | os.O_CREAT)
ts = [threading.Thread(target=app, args=(c,)) for c in "pqrs"]
[t.start() for t in ts]; [t.join() for t in ts]
d = open("mbox").read()
print("append", len(d), all(d[i:i+10] == d[i] * 10 for i in range(0, len(d), 10)))
' 2>&1)
like "$out" "O_EXCL ok" "O_EXCL creates once"
like "$out" "noreplace -1 File exists" "renameat2 RENAME_NOREPLACE refuses an existing target"
like "$out" "refused flock refused" "OFD and flock locks hold between processes"
like "$out" "append 2000 True" "O_APPEND writes from four threads: all there, none overwritten"

out=$(py '
import ctypes, select, struct
libc = ctypes.CDLL(None, use_errno=True)
os.mkdir("new")
ino = libc.inotify_init1(os.O_NONBLOCK)
libc.inotify_add_watch(ino, b"new", 0x80 | 0x100)   # IN_MOVED_TO | IN_CREATE
put("t1", "x"); os.rename("t1", "new/m1"); put("new/m2", "y")
names = []
p = select.poll(); p.register(ino, select.POLLIN)
while p.poll(2000) and len(names) < 2:
    b = os.read(ino, 4096)
    while b:
        wd, mask, cookie, ln = struct.unpack("iIII", b[:16])
        names.append(b[16:16 + ln].rstrip(b"\0").decode()); b = b[16 + ln:]
print("inotify", " ".join(sorted(names)))
')
is "$out" "inotify m1 m2" "inotify sees a rename into and a create in a watched directory"
fs_cut
fs_umount

# many threads at once, as in mta's queue: each writes tmp/N, fsyncs it,
# renames it to new/N, fsyncs new/; whatever completed is in new/, whole
fs_mount
py 'os.mkdir("tmp"); os.mkdir("new"); dsync()'
out=$(py '
import threading, time
done = []
def worker(k):
    for i in range(40):
        n = "%d.%d" % (k, i)
        try:
            put("tmp/" + n, n * 100, sync=True)
            os.rename("tmp/" + n, "new/" + n)
            dsync("new")
            done.append(n)
        except OSError:
            return
ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
[t.start() for t in ts]
ctl = lambda: open(".crashfs-ctl").read()
end = time.time() + 30
while int(ctl().split()[1]) < 300 and time.time() < end:
    time.sleep(0.01)
open(".crashfs-ctl", "w").write("cut")
[t.join() for t in ts]
print("done", len(done))
open(sys.argv[2] + "/done", "w").write("\n".join(done) + "\n")
' "$T" 2>&1)
fs_umount
is "$($PY - "$B" "$T/done" <<'PYEOF'
import os, sys
b, done = sys.argv[1], open(sys.argv[2]).read().split()
want = lambda n: (n * 100).encode()
missing = [n for n in done if not os.path.exists(b + "/new/" + n)]
bad = [n for n in done if n not in missing and open(b + "/new/" + n, "rb").read() != want(n)]
print("missing", len(missing), "bad", len(bad))
PYEOF
)" "missing 0 bad 0" "8 threads, cut under way: every completed message is in new/, whole"
is "$($PY - "$B" <<'PYEOF'
import os, sys
b = sys.argv[1]
bad = [d + "/" + n for d in ("new", "tmp") for n in os.listdir(b + "/" + d)
       if open(b + "/" + d + "/" + n, "rb").read() not in (b"", (n * 100).encode())]
print("bad", len(bad), *bad)
PYEOF
)" "bad 0" "after the cut every file is whole or empty"
like "$out" "^done [1-9][0-9]*$" "the writers saw only EIO, no crash ($out)"

is "$(crashfs_stderr)" "" \
	"crashfs reported nothing on stderr"
done_testing
