package fileservice

import "fmt"

// Defaults of Config's zero fields.
const (
	DefaultMaxFileBytes    = 1 << 20  // 1 MiB: an essay is a few tens of KiB
	DefaultMaxFiles        = 100      // files per upload request
	DefaultMaxRequestBytes = 32 << 20 // 32 MiB per upload request
)

// Config are the File Service's own settings. The env tags are the names
// servicekit reads them from (prefixed with FILE_SERVICE_).
type Config struct {
	// MaxFileBytes is the largest file accepted as an essay; a larger one
	// gets EssayValidationFailedV1 with CONTENT_TOO_LONG. Default 1 MiB.
	MaxFileBytes int64 `env:"MAX_FILE_BYTES"`
	// MaxFiles is the most files one upload request may hold; more is a
	// 400. Default 100.
	MaxFiles int `env:"MAX_FILES_PER_REQUEST"`
	// MaxRequestBytes bounds a whole upload request; more is a 413. It
	// must be at least MaxFileBytes. Default 32 MiB.
	MaxRequestBytes int64 `env:"MAX_REQUEST_BYTES"`
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.MaxFileBytes == 0 {
		c.MaxFileBytes = DefaultMaxFileBytes
	}
	if c.MaxFiles == 0 {
		c.MaxFiles = DefaultMaxFiles
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = max(DefaultMaxRequestBytes, c.MaxFileBytes)
	}
	return c
}

// Validate reports the first field with a value out of range, naming it and
// the accepted range. Zero fields are valid (they take defaults).
func (c Config) Validate() error {
	switch {
	case c.MaxFileBytes < 0:
		return fmt.Errorf("fileservice: MaxFileBytes = %d: must be > 0 (0 means default %d)", c.MaxFileBytes, DefaultMaxFileBytes)
	case c.MaxFiles < 0:
		return fmt.Errorf("fileservice: MaxFiles = %d: must be > 0 (0 means default %d)", c.MaxFiles, DefaultMaxFiles)
	case c.MaxRequestBytes < 0:
		return fmt.Errorf("fileservice: MaxRequestBytes = %d: must be > 0 (0 means default %d)", c.MaxRequestBytes, DefaultMaxRequestBytes)
	}
	d := c.withDefaults()
	if d.MaxRequestBytes < d.MaxFileBytes {
		return fmt.Errorf("fileservice: MaxRequestBytes = %d: must be >= MaxFileBytes (%d)", d.MaxRequestBytes, d.MaxFileBytes)
	}
	return nil
}
