package fileservice

import (
	"strings"
	"testing"

	"github.com/huleedu/huleedu/services/contracts"
)

func TestValidateContentClassifiesFiles(t *testing.T) {
	tests := []struct {
		name string
		data string
		size int64 // 0 = len(data)
		want string
	}{
		{"plain essay", "An essay.\n\tIndented paragraph.\r\n", 0, ""},
		{"unicode essay with BOM", "\ufeffÅsa skrev en uppsats om ängar.", 0, ""},
		{"one stray control character in a long text", strings.Repeat("word ", 40) + "\x07", 0, ""},
		{"empty", "", 0, contracts.ValidationEmptyContent},
		{"whitespace only", " \n\t\r\n ", 0, contracts.ValidationEmptyContent},
		{"over the limit", "12345678901", 0, contracts.ValidationContentTooLong},
		{"truncated but really larger", "1234567890x", 5000, contracts.ValidationContentTooLong},
		{"invalid UTF-8", "caf\xe9 bar", 0, contracts.ValidationTextExtractionFailed},
		{"NUL byte", "text\x00more", 0, contracts.ValidationTextExtractionFailed},
		{"many control characters", "ab\x01\x02\x03cd", 0, contracts.ValidationTextExtractionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.size
			if size == 0 {
				size = int64(len(tt.data))
			}
			limit := int64(10)
			if tt.want == "" {
				limit = 1 << 10
			}
			got := validateContent([]byte(tt.data), size, limit)
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("rejected valid text: %+v", got)
			case tt.want != "" && (got == nil || got.code != tt.want):
				t.Errorf("got %+v, want code %s", got, tt.want)
			}
		})
	}
}

func TestConfigValidateNamesBadField(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{MaxFileBytes: -1}, "MaxFileBytes = -1"},
		{Config{MaxFiles: -3}, "MaxFiles = -3"},
		{Config{MaxRequestBytes: -1}, "MaxRequestBytes = -1"},
		{Config{MaxFileBytes: 100, MaxRequestBytes: 10}, "MaxRequestBytes = 10: must be >= MaxFileBytes"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want it to mention %q", tt.cfg, err, tt.want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}
