package spool

import (
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// faultFS wraps the OS file system so tests can make writes and fsyncs
// fail, write short, or wait, and can count what the spool does.
type faultFS struct {
	FS
	mu sync.Mutex
	// write, if set, decides a write to the file named name (base name):
	// handled false lets it through; otherwise the first n bytes of b are
	// really written and (n, err) returned.
	write func(name string, b []byte) (n int, err error, handled bool)
	// sync, if set, runs before an fsync of name; an error fails it
	// without syncing.
	sync func(name string) error
	// remove, if set, runs before a removal of name (base name).
	remove func(name string)
	// removeErr and truncate, if set, decide a removal and a truncation of
	// name (base name): an error fails it without doing it.
	removeErr, truncate func(name string) error
	// read, if set, runs before a ReadAt of name (base name).
	read func(name string)
	// noSync turns every fsync (files and directories) into a no-op, for
	// fuzzing speed where durability is not what is tested.
	noSync bool

	syncs     atomic.Int64 // fsyncs of files (not directories)
	readBytes atomic.Int64 // bytes read through ReadAt and Read
	opens     atomic.Int64
}

func newFaultFS() *faultFS { return &faultFS{FS: OSFS} }

func (f *faultFS) setWrite(h func(name string, b []byte) (int, error, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.write = h
}

func (f *faultFS) setSync(h func(name string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sync = h
}

func (f *faultFS) setRemove(h func(name string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.remove = h
}

func (f *faultFS) setRemoveErr(h func(name string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeErr = h
}

func (f *faultFS) setTruncate(h func(name string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.truncate = h
}

func (f *faultFS) setRead(h func(name string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = h
}

func (f *faultFS) Remove(name string) error {
	f.mu.Lock()
	hook, fail := f.remove, f.removeErr
	f.mu.Unlock()
	if hook != nil {
		hook(filepath.Base(name))
	}
	if fail != nil {
		if err := fail(filepath.Base(name)); err != nil {
			return err
		}
	}
	return f.FS.Remove(name)
}

func (f *faultFS) hooks() (func(string, []byte) (int, error, bool), func(string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.write, f.sync
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	f.opens.Add(1)
	return &faultFile{File: file, fs: f, name: filepath.Base(name)}, nil
}

type faultFile struct {
	File
	fs   *faultFS
	name string
}

func (f *faultFile) Write(b []byte) (int, error) {
	if hook, _ := f.fs.hooks(); hook != nil {
		if n, err, handled := hook(f.name, b); handled {
			if n > 0 {
				if _, werr := f.File.Write(b[:n]); werr != nil {
					return 0, werr
				}
			}
			return n, err
		}
	}
	return f.File.Write(b)
}

func (f *faultFS) SyncDir(name string) error {
	if f.noSync {
		return nil
	}
	return f.FS.SyncDir(name)
}

func (f *faultFile) Sync() error {
	if f.fs.noSync {
		return nil
	}
	if _, hook := f.fs.hooks(); hook != nil {
		if err := hook(f.name); err != nil {
			return err
		}
	}
	f.fs.syncs.Add(1)
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	hook := f.fs.truncate
	f.fs.mu.Unlock()
	if hook != nil {
		if err := hook(f.name); err != nil {
			return err
		}
	}
	return f.File.Truncate(size)
}

func (f *faultFile) ReadAt(b []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	hook := f.fs.read
	f.fs.mu.Unlock()
	if hook != nil {
		hook(f.name)
	}
	n, err := f.File.ReadAt(b, off)
	f.fs.readBytes.Add(int64(n))
	return n, err
}

func (f *faultFile) Read(b []byte) (int, error) {
	n, err := f.File.Read(b)
	f.fs.readBytes.Add(int64(n))
	return n, err
}
