package breakergen

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ResiliencePath is the import path of the breaker package the generated
// code uses.
const ResiliencePath = "github.com/huleedu/huleedu/resilience"

// Config says what to generate.
type Config struct {
	// Dir is the directory of the package that declares the interface.
	Dir string
	// Type is the interface's name.
	Type string
	// Skip names a file in Dir not to read, normally the output file
	// itself, so that a stale or broken output never stops regeneration.
	Skip string
}

// DefaultOutput is the output file name for an interface: its name in
// snake case with a _breaker.go suffix (EssayClient ->
// essay_client_breaker.go).
func DefaultOutput(typeName string) string {
	var b strings.Builder
	runes := []rune(typeName)
	for i, r := range runes {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(runes[i-1]) || (i+1 < len(runes) && unicode.IsLower(runes[i+1]))) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String() + "_breaker.go"
}

// Generate returns the gofmt'ed source of the wrapper for cfg.Type.
func Generate(cfg Config) ([]byte, error) {
	if cfg.Type == "" {
		return nil, errors.New("breakergen: no type given")
	}
	pkg, err := build.Default.ImportDir(cfg.Dir, 0)
	if err != nil {
		return nil, fmt.Errorf("breakergen: reading package in %s: %w", cfg.Dir, err)
	}
	fset := token.NewFileSet()
	files := make(map[string]*ast.File)
	for _, name := range pkg.GoFiles {
		if name == cfg.Skip {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(cfg.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("breakergen: %w", err)
		}
		files[name] = f
	}
	g := &generator{fset: fset, files: files, pkgName: pkg.Name}
	return g.generate(cfg.Type)
}

type generator struct {
	fset    *token.FileSet
	files   map[string]*ast.File
	pkgName string
}

// declared is an interface type found in the package with its file.
type declared struct {
	spec  *ast.TypeSpec
	iface *ast.InterfaceType
	file  *ast.File
}

func (g *generator) lookup(name string) (declared, error) {
	for _, f := range g.files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				if ts.Name.Name != name {
					continue
				}
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok {
					return declared{}, fmt.Errorf("breakergen: %s is not an interface type", name)
				}
				if ts.TypeParams != nil {
					return declared{}, fmt.Errorf("breakergen: %s is generic; generic interfaces are not supported", name)
				}
				return declared{ts, it, f}, nil
			}
		}
	}
	return declared{}, fmt.Errorf("breakergen: no type %s in package %s", name, g.pkgName)
}

// method is one interface method with the file it was declared in (for
// resolving package qualifiers).
type method struct {
	name string
	typ  *ast.FuncType
	file *ast.File
}

// errorMethod is the signature of the error interface's Error method, for
// interfaces that embed error.
var errorMethod = &ast.FuncType{
	Params:  &ast.FieldList{},
	Results: &ast.FieldList{List: []*ast.Field{{Type: ast.NewIdent("string")}}},
}

// methods lists the methods of the interface, expanding interfaces
// embedded from the same package.
func (g *generator) methods(d declared, seen map[string]bool) ([]method, error) {
	seen[d.spec.Name.Name] = true
	var out []method
	for _, field := range d.iface.Methods.List {
		if len(field.Names) == 0 {
			if id, ok := field.Type.(*ast.Ident); ok && id.Name == "error" {
				out = append(out, method{name: "Error", typ: errorMethod, file: d.file})
				continue
			}
			ident, ok := field.Type.(*ast.Ident)
			if !ok {
				return nil, fmt.Errorf("breakergen: %s embeds %s; only interfaces of the same package can be embedded (list the methods instead)",
					d.spec.Name.Name, g.expr(field.Type))
			}
			if seen[ident.Name] {
				continue
			}
			inner, err := g.lookup(ident.Name)
			if err != nil {
				return nil, err
			}
			more, err := g.methods(inner, seen)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
			continue
		}
		ft, ok := field.Type.(*ast.FuncType)
		if !ok {
			return nil, fmt.Errorf("breakergen: unexpected interface element %s", g.expr(field.Type))
		}
		for _, n := range field.Names {
			out = append(out, method{name: n.Name, typ: ft, file: d.file})
		}
	}
	return out, nil
}

func (g *generator) expr(e ast.Expr) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, g.fset, e); err != nil {
		return fmt.Sprintf("<%T>", e)
	}
	return b.String()
}

func (g *generator) generate(typeName string) ([]byte, error) {
	d, err := g.lookup(typeName)
	if err != nil {
		return nil, err
	}
	ms, err := g.methods(d, map[string]bool{})
	if err != nil {
		return nil, err
	}
	imports := newImportSet()
	if err := imports.add("resilience", ResiliencePath, false); err != nil {
		return nil, err
	}
	wrapper, ctor := names(typeName)

	var body bytes.Buffer
	fmt.Fprintf(&body, "// %s wraps a %s so that each of its methods that takes a\n", wrapper, typeName)
	fmt.Fprintf(&body, "// context.Context and returns an error runs through a circuit breaker.\n")
	fmt.Fprintf(&body, "type %s struct {\n\tinner %s\n\tcb *resilience.CircuitBreaker\n}\n\n", wrapper, typeName)
	fmt.Fprintf(&body, "// %s returns a %s that guards inner with cb.\n", ctor, typeName)
	fmt.Fprintf(&body, "func %s(inner %s, cb *resilience.CircuitBreaker) *%s {\n\treturn &%s{inner: inner, cb: cb}\n}\n\n", ctor, typeName, wrapper, wrapper)
	fmt.Fprintf(&body, "var _ %s = (*%s)(nil)\n", typeName, wrapper)
	for _, m := range ms {
		if err := g.writeMethod(&body, wrapper, typeName, m, imports); err != nil {
			return nil, err
		}
	}

	var out bytes.Buffer
	fmt.Fprintf(&out, "// Code generated by breakergen -type %s; DO NOT EDIT.\n\npackage %s\n\n", typeName, g.pkgName)
	imports.write(&out)
	out.Write(body.Bytes())
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("breakergen: formatting the generated code: %w\n%s", err, out.Bytes())
	}
	return src, nil
}

// names returns the wrapper type and constructor names for an interface.
func names(typeName string) (wrapper, ctor string) {
	r, size := utf8.DecodeRuneInString(typeName)
	upper := string(unicode.ToUpper(r)) + typeName[size:]
	if ast.IsExported(typeName) {
		return "Resilient" + upper, "NewResilient" + upper
	}
	return "resilient" + upper, "newResilient" + upper
}
