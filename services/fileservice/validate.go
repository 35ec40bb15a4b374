package fileservice

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/huleedu/huleedu/services/contracts"
)

// maxControlRatio is the share of control characters (other than the
// whitespace ones) above which a valid UTF-8 file is taken for binary data:
// text pasted from word processors carries the odd stray control
// character, binary formats that happen to be valid UTF-8 carry many.
const maxControlRatio = 0.01

// rejection says why a file cannot become an essay.
type rejection struct {
	code   string // one of contracts.Validation*
	reason string
}

// validateContent checks an uploaded file. size is its full size (data
// holds at most maxBytes+1 of it). It returns nil for a valid essay.
func validateContent(data []byte, size, maxBytes int64) *rejection {
	if size > maxBytes {
		return &rejection{contracts.ValidationContentTooLong,
			fmt.Sprintf("file is %d bytes; the limit is %d bytes", size, maxBytes)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		reason := "file is empty"
		if size > 0 {
			reason = "file holds only whitespace"
		}
		return &rejection{contracts.ValidationEmptyContent, reason}
	}
	if !utf8.Valid(data) {
		return &rejection{contracts.ValidationTextExtractionFailed, "file is not UTF-8 text (binary data or another encoding)"}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return &rejection{contracts.ValidationTextExtractionFailed, fmt.Sprintf("file holds a NUL byte at offset %d: binary data, not text", i)}
	}
	control, runes := 0, 0
	for _, r := range string(data) {
		runes++
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			control++
		}
	}
	if float64(control) > maxControlRatio*float64(runes) {
		return &rejection{contracts.ValidationTextExtractionFailed,
			fmt.Sprintf("%d of %d characters are control characters: binary data, not text", control, runes)}
	}
	return nil
}
