package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// quarantineRange copies bytes d of the log file name in dir to a new file
// in the quarantine directory (creating it) and fsyncs the copy and the
// quarantine directory. A file already there with the same bytes, moved
// aside before (while the spool ran, or by a recovery a crash
// interrupted), is kept and its path returned instead of a second copy;
// one of the same name with other bytes is kept too, and the copy gets a
// suffix.
func quarantineRange(fsys FS, dir, name string, d span) (string, error) {
	qdir := filepath.Join(dir, quarantineDir)
	if _, err := fsys.Stat(qdir); errors.Is(err, fs.ErrNotExist) {
		if err := fsys.MkdirAll(qdir, 0o755); err != nil {
			return "", fmt.Errorf("spool: create quarantine: %w", err)
		}
		if err := fsys.SyncDir(dir); err != nil {
			return "", fmt.Errorf("spool: sync %s: %w", dir, err)
		}
	}
	src, err := fsys.OpenFile(filepath.Join(dir, name), os.O_RDONLY, 0)
	if err != nil {
		return "", fmt.Errorf("spool: quarantine %s: %w", name, err)
	}
	defer src.Close()
	section := io.NewSectionReader(src, d.from, d.to-d.from)
	var dst File
	var path string
	for n := 0; ; n++ {
		path = quarantineName(dir, name, d.from, n)
		dst, err = fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		same, err := sameBytes(fsys, path, section)
		if err == nil && same {
			err = fsys.SyncDir(qdir) // the copy itself was fsynced by sameBytes
		}
		if err != nil {
			return "", fmt.Errorf("spool: quarantine %s: %w", name, err)
		}
		if same {
			return path, nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("spool: quarantine %s: %w", name, err)
	}
	_, err = io.Copy(dst, io.NewSectionReader(src, d.from, d.to-d.from))
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.SyncDir(qdir)
	}
	if err != nil {
		fsys.Remove(path) // a copy that may not be durable is not one
		return "", fmt.Errorf("spool: quarantine %s: %w", name, err)
	}
	return path, nil
}

// sameBytes reports whether the file at path holds exactly the bytes of
// section, and then fsyncs it: it may be a copy whose writer did not get
// to fsync it.
func sameBytes(fsys FS, path string, section *io.SectionReader) (bool, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.Size() != section.Size() {
		return false, err
	}
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for off := int64(0); off < section.Size(); {
		n := int(min(int64(len(a)), section.Size()-off))
		if err := readFullAt(f, a[:n], off); err != nil {
			return false, err
		}
		if err := readFullAt(section, b[:n], off); err != nil {
			return false, err
		}
		if !bytes.Equal(a[:n], b[:n]) {
			return false, nil
		}
		off += int64(n)
	}
	return true, f.Sync()
}
