package spool

import (
	"io"
	"io/fs"
	"os"
)

// FS is the file-system seam of the disk spool: every file operation the
// spool performs goes through it. The default (DiskOptions.FS nil) is the
// operating system. Tests wrap it to inject failures the real disk rarely
// produces on demand: ENOSPC on write, EIO on fsync, short writes.
//
// Names are full paths (the spool joins them onto its directory). Files
// are truncated through File.Truncate, on the descriptor the spool wrote
// with. Implementations must be safe for concurrent use.
type FS interface {
	// OpenFile opens a file like os.OpenFile.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// ReadDir lists a directory like os.ReadDir (sorted by name).
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat describes a file like os.Stat.
	Stat(name string) (fs.FileInfo, error)
	// MkdirAll creates a directory and its parents like os.MkdirAll.
	MkdirAll(name string, perm fs.FileMode) error
	// Rename renames a file atomically like os.Rename.
	Rename(oldname, newname string) error
	// Remove removes a file like os.Remove.
	Remove(name string) error
	// SyncDir makes the directory's entries (creations, renames,
	// removals) durable: fsync on the directory itself.
	SyncDir(name string) error
	// Lock takes an exclusive inter-process lock on the file name
	// (creating it) and records the caller's pid in it. If another holder
	// has it, Lock fails with an error that wraps ErrLocked, a
	// *LockedError where the holder's pid is known. Closing the returned
	// Closer releases the lock.
	Lock(name string) (io.Closer, error)
}

// File is an open file, as returned by FS.OpenFile. *os.File implements it.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Seeker
	io.Closer
	// Sync commits the file's contents to stable storage (fsync).
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Stat describes the file.
	Stat() (fs.FileInfo, error)
}

// OSFS is the FS of the operating system, the one the spool uses when
// DiskOptions.FS is nil.
var OSFS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not f: a nil *os.File in a File interface is not nil
	}
	return f, nil
}

func (osFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }
func (osFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }
func (osFS) Rename(oldname, newname string) error         { return os.Rename(oldname, newname) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) Lock(name string) (io.Closer, error)          { return lockFile(name) }

func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
