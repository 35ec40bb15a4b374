package spool

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// File names in a spool directory (doc.go describes each).
const (
	segmentExt      = ".seg"
	tempExt         = ".tmp"
	headFileName    = "head"
	lockFileName    = "spool.lock"
	deadLetterName  = "deadletter.log"
	quarantineDir   = "quarantine"
	quarantineExt   = ".bin"
	logHeaderSize   = 16
	logFormatV1     = 1
	segmentNameSize = 20 + len(segmentExt)
)

var (
	segmentMagic    = [4]byte{'H', 'S', 'E', 'G'}
	deadLetterMagic = [4]byte{'H', 'D', 'L', 'Q'}
)

// logKind describes one of the two kinds of log file the spool keeps: the
// segments of the queue and the dead-letter log. Both are a 16-byte header
// followed by frames; they differ in magic and payload kind.
type logKind struct {
	magic   [4]byte
	payload byte
	// check validates a payload's structure, allocating nothing.
	check func([]byte) error
}

var (
	segmentKind = logKind{segmentMagic, payloadKindRecord, func(p []byte) error {
		return decodeRecordPayload(p, nil)
	}}
	deadLetterKind = logKind{deadLetterMagic, payloadKindDeadLetter, func(p []byte) error {
		return decodeDeadLetterPayload(p, nil)
	}}
)

// segmentName is the file name of the segment whose first record has seq
// base: 20 decimal digits, so names sort in seq order.
func segmentName(base uint64) string {
	return fmt.Sprintf("%020d%s", base, segmentExt)
}

// parseSegmentName returns the base seq of a segment file name, or false
// for any other name.
func parseSegmentName(name string) (uint64, bool) {
	if len(name) != segmentNameSize || !strings.HasSuffix(name, segmentExt) {
		return 0, false
	}
	digits := name[:20]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	base, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || base == 0 {
		return 0, false
	}
	return base, true
}

// logHeader encodes a log file header:
//
//	0  4  magic ("HSEG" or "HDLQ")
//	4  1  format version (1)
//	5  3  zero
//	8  8  base: a segment's first seq (equal to its name); 0 for the dead-letter log
func logHeader(k logKind, base uint64) []byte {
	h := make([]byte, logHeaderSize)
	copy(h, k.magic[:])
	h[4] = logFormatV1
	binary.LittleEndian.PutUint64(h[8:], base)
	return h
}

// checkLogHeader reports whether h is a valid header of kind k for base.
func checkLogHeader(h []byte, k logKind, base uint64) bool {
	return len(h) >= logHeaderSize && [4]byte(h[:4]) == k.magic && h[4] == logFormatV1 &&
		h[5] == 0 && h[6] == 0 && h[7] == 0 && binary.LittleEndian.Uint64(h[8:]) == base
}

// quarantineName is the file a damaged range of log file name, starting at
// offset off, is moved to; n > 0 tells apart ranges quarantined at the same
// place on different occasions.
func quarantineName(dir, name string, off int64, n int) string {
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	if n == 0 {
		return filepath.Join(dir, quarantineDir, fmt.Sprintf("%s-%d%s", stem, off, quarantineExt))
	}
	return filepath.Join(dir, quarantineDir, fmt.Sprintf("%s-%d.%d%s", stem, off, n, quarantineExt))
}
