package breakergen

import (
	"bytes"
	"fmt"
	"go/ast"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// importSet is the generated file's imports: local name -> path, and the
// names the source spelled out explicitly.
type importSet struct {
	byName   map[string]string
	explicit map[string]bool
}

func newImportSet() *importSet {
	return &importSet{byName: map[string]string{}, explicit: map[string]bool{}}
}

func (s *importSet) add(name, path string, explicit bool) error {
	if have, ok := s.byName[name]; ok && have != path {
		return fmt.Errorf("breakergen: package name %q refers to both %q and %q", name, have, path)
	}
	s.byName[name] = path
	s.explicit[name] = s.explicit[name] || explicit
	return nil
}

// write writes the import block. An import is named explicitly when the
// source named it or when its guessed default name differs from the name
// the code uses.
func (s *importSet) write(b *bytes.Buffer) {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(s.byName[a], s.byName[b]) })
	b.WriteString("import (\n")
	// Standard library first, then a blank line and the rest, as goimports
	// groups them.
	for _, std := range []bool{true, false} {
		if !std {
			b.WriteString("\n")
		}
		for _, n := range names {
			p := s.byName[n]
			if isStd(p) != std {
				continue
			}
			if defaultName(p) == n && !s.explicit[n] {
				fmt.Fprintf(b, "\t%s\n", strconv.Quote(p))
			} else {
				fmt.Fprintf(b, "\t%s %s\n", n, strconv.Quote(p))
			}
		}
	}
	b.WriteString(")\n\n")
}

// isStd reports whether an import path belongs to the standard library
// (no dot in its first element).
func isStd(importPath string) bool {
	first, _, _ := strings.Cut(importPath, "/")
	return !strings.Contains(first, ".")
}

var versionSuffix = regexp.MustCompile(`^v[0-9]+$`)

// defaultName guesses the package name of an import path the way the
// conventions go: the last element, skipping a /vN major-version suffix,
// without a .vN or -go suffix or a go- prefix. Without type checking this
// is a guess; an import whose package name differs is matched only if the
// source file names it explicitly.
func defaultName(importPath string) string {
	base := path.Base(importPath)
	if versionSuffix.MatchString(base) {
		base = path.Base(path.Dir(importPath))
	}
	if i := strings.Index(base, ".v"); i > 0 {
		base = base[:i]
	}
	base = strings.TrimPrefix(base, "go-")
	base = strings.TrimSuffix(base, "-go")
	return strings.ReplaceAll(base, "-", "")
}

// resolve finds the import path that name refers to in file and whether
// the file names that import explicitly.
func resolve(file *ast.File, name string) (path string, explicit, ok bool) {
	for _, imp := range file.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		local := defaultName(p)
		if imp.Name != nil {
			local = imp.Name.Name
		}
		if local == name {
			return p, imp.Name != nil, true
		}
	}
	return "", false, false
}
