package tiny

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// cpioWriter writes a "newc" cpio archive, the format the kernel unpacks
// into its initramfs. Writing it here, rather than with cpio(1) from a
// staged tree, lets the image hold root-owned files and a /dev/console
// node without the builder being root, and makes it byte-for-byte stable.
type cpioWriter struct {
	w    io.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

// File types and permissions as cpio's mode field carries them.
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

func newCPIO(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, dirs: map[string]bool{".": true, "/": true, "": true}}
}

// Dir adds a directory and any missing parents: the kernel does not create
// parents of the entries it unpacks.
func (c *cpioWriter) Dir(name string, perm uint32) {
	name = clean(name)
	if c.dirs[name] {
		return
	}
	c.Dir(path.Dir(name), 0o755)
	c.dirs[name] = true
	c.entry(name, modeDir|perm, 0, 0, nil)
}

// File adds a regular file owned by root.
func (c *cpioWriter) File(name string, perm uint32, data []byte) {
	name = clean(name)
	c.Dir(path.Dir(name), 0o755)
	c.entry(name, modeFile|perm, 0, 0, data)
}

// Symlink adds a symbolic link.
func (c *cpioWriter) Symlink(name, target string) {
	name = clean(name)
	c.Dir(path.Dir(name), 0o755)
	c.entry(name, modeSymlink|0o777, 0, 0, []byte(target))
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm uint32, major, minor uint32) {
	name = clean(name)
	c.Dir(path.Dir(name), 0o755)
	c.entry(name, modeCharDev|perm, major, minor, nil)
}

// Close writes the trailer. It reports the first error of any call.
func (c *cpioWriter) Close() error {
	c.entry("TRAILER!!!", 0, 0, 0, nil)
	return c.err
}

func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

func (c *cpioWriter) entry(name string, mode, rmajor, rminor uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check.
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.pad(len(hdr) + len(name) + 1)
	c.write(data)
	c.pad(len(data))
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

// pad aligns to 4 bytes, as newc requires after the name and the data.
func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}
