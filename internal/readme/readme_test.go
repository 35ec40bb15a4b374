package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// block is one fenced Go code block of a Markdown file.
type block struct {
	line int // 1-based line of the opening fence
	code string
}

// goBlocks returns the ```go blocks of md.
func goBlocks(md string) []block {
	var (
		blocks []block
		cur    *strings.Builder
		start  int
	)
	for i, line := range strings.Split(md, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur, start = &strings.Builder{}, i+1
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, block{line: start, code: cur.String()})
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

func TestIsTestFileTellsTestsFromPrograms(t *testing.T) {
	if !isTestFile("package orders\n\nfunc TestPublish(t *testing.T) {}\n") || isTestFile("package main\n\nfunc main() {}\n") {
		t.Fatal("isTestFile confuses a test file and a program")
	}
}

func TestGoBlocksFindsFencedGoOnly(t *testing.T) {
	md := "text\n```sh\nls\n```\n```go\npackage main\n\nfunc main() {}\n```\n"
	got := goBlocks(md)
	if len(got) != 1 || got[0].line != 5 || got[0].code != "package main\n\nfunc main() {}\n" {
		t.Fatalf("goBlocks = %+v, want the one Go block at line 5", got)
	}
}

// isTestFile reports whether a Go block is a test file: it declares a test.
func isTestFile(code string) bool { return strings.Contains(code, "\nfunc Test") }

func TestREADMEGoBlocksBuildAndTheirTestsPass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every README example with the go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(md))
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block: the test would check nothing")
	}
	for _, b := range blocks {
		name, args := "main.go", []string{"vet"}
		switch {
		case isTestFile(b.code):
			name, args = "example_test.go", []string{"test", "-count=1"}
		case !strings.HasPrefix(b.code, "package main\n"):
			t.Errorf("README.md:%d: a Go block must be a whole file: a program (package main) or a test file (func TestXxx)", b.line)
			continue
		}
		file := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(file, []byte(b.code), 0o644); err != nil {
			t.Fatal(err)
		}
		// Run from the module root, so the file's imports of this module
		// resolve to the code as it is now.
		cmd := exec.Command("go", append(args, file)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("README.md:%d: go %s of the example failed:\n%s", b.line, args[0], strings.ReplaceAll(string(out), file, "README.md example"))
		}
	}
}
