package pgserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// maxSocketPath is the longest unix socket path PostgreSQL accepts: sun_path
// holds 108 bytes including the terminating NUL.
const maxSocketPath = 107

// account is the user PostgreSQL runs as when rcm itself runs as root.
type account struct {
	name   string
	home   string
	uid    uint32
	gid    uint32
	groups []uint32
}

func (a *account) credential() *syscall.Credential {
	return &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
}

// layout says where a cluster's files go and who owns them.
type layout struct {
	base    string   // holds data/; PostgreSQL processes start here
	dataDir string   // PGDATA
	sockDir string   // unix_socket_directories
	owner   *account // nil: PostgreSQL runs as the current user
}

// planLayout decides the directories for a cluster under dir and creates the
// ones that do not exist yet, except the data directory itself.
func planLayout(dir string, port int) (layout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return layout{}, fmt.Errorf("resolve %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return layout{}, fmt.Errorf("create %s: %w", abs, err)
	}
	var l layout
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		if l.owner, err = lookupAccount("postgres"); err != nil {
			return layout{}, err
		}
	}
	l.base = abs
	if l.owner != nil {
		ok, err := canTraverse(abs, l.owner)
		if err != nil {
			return layout{}, err
		}
		if !ok {
			// Changing the modes of the user's directories (say /root) is
			// not ours to do; a stable name lets the next run resume.
			l.base = hashedTempDir("rcm-pg-", abs)
			if err := ensureDir(l.base, 0o755, nil); err != nil {
				return layout{}, err
			}
			ok, err := canTraverse(l.base, l.owner)
			if err != nil {
				return layout{}, err
			}
			if !ok {
				return layout{}, fmt.Errorf("user %s cannot reach %s or %s: make one of them traversable or set DATABASE_URL", l.owner.name, abs, l.base)
			}
		}
	}
	l.dataDir = filepath.Join(l.base, "data")
	l.sockDir = filepath.Join(l.base, "run")
	if len(socketPath(l.sockDir, port)) > maxSocketPath {
		l.sockDir = hashedTempDir("rcm-pgsock-", abs)
		if p := socketPath(l.sockDir, port); len(p) > maxSocketPath {
			return layout{}, fmt.Errorf("unix socket path %s is longer than %d bytes: set TMPDIR to a shorter directory", p, maxSocketPath)
		}
	}
	// The socket directory is private: only its owner (and root) can connect,
	// which is what makes trust authentication acceptable.
	if err := ensureDir(l.sockDir, 0o700, l.owner); err != nil {
		return layout{}, err
	}
	return l, nil
}

func socketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// hashedTempDir names a directory after abs so that the same Dir maps to the
// same place on every run.
func hashedTempDir(prefix, abs string) string {
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), prefix+hex.EncodeToString(sum[:8]))
}

func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as the %q user, which is missing (install the PostgreSQL server package or create the user): %w", name, err)
	}
	a := &account{name: name, home: u.HomeDir}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	a.uid, a.gid = uint32(uid), uint32(gid)
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %s: groups: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %s: group id %q: %w", name, g, err)
		}
		a.groups = append(a.groups, uint32(n))
	}
	return a, nil
}

// canTraverse reports whether a can search dir and every directory above it,
// applying the owner/group/other bits as the kernel does.
func canTraverse(dir string, a *account) (bool, error) {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false, fmt.Errorf("check access to %s: %w", p, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false, fmt.Errorf("check access to %s: no ownership information", p)
		}
		var bit fs.FileMode
		switch {
		case st.Uid == a.uid:
			bit = 0o100
		case st.Gid == a.gid || slices.Contains(a.groups, st.Gid):
			bit = 0o010
		default:
			bit = 0o001
		}
		if fi.Mode().Perm()&bit == 0 {
			return false, nil
		}
		if p == filepath.Dir(p) {
			return true, nil
		}
	}
}

// ensureDir creates path with exactly mode (whatever the umask) and owner. An
// existing path must be a real directory that we or owner own and that nobody
// else can write: some of these live under a shared /tmp with predictable
// names.
func ensureDir(path string, mode fs.FileMode, owner *account) error {
	if err := os.Mkdir(path, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("check %s: no ownership information", path)
	}
	if int(st.Uid) != os.Geteuid() && (owner == nil || st.Uid != owner.uid) {
		return fmt.Errorf("%s belongs to uid %d, not to us: remove it or choose another directory", path, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by other users (mode %v): remove it or fix its mode", path, fi.Mode().Perm())
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if owner != nil {
		if err := os.Chown(path, int(owner.uid), int(owner.gid)); err != nil {
			return fmt.Errorf("chown %s to %s: %w", path, owner.name, err)
		}
	}
	return nil
}
