package breakergen

import (
	"bytes"
	"fmt"
	"go/ast"
	"regexp"
	"slices"
	"strings"
)

// param is one flattened parameter or result.
type param struct {
	name     string
	typ      string // as written in the source
	variadic bool
}

// writeMethod writes the wrapper method for m.
func (g *generator) writeMethod(b *bytes.Buffer, wrapper, typeName string, m method, imports *importSet) error {
	if err := g.addQualifiers(m, imports); err != nil {
		return err
	}
	inTypes := typeIdents(m.typ)
	params := g.flatten(m.typ.Params, "a", inTypes)
	results := g.flatten(m.typ.Results, "r", inTypes)
	takesCtx := len(params) > 0 && g.isContext(m.typ.Params.List[0].Type, m.file)
	if takesCtx {
		params[0].name = "ctx"
	}
	guarded := takesCtx && len(results) > 0 && results[len(results)-1].typ == "error"
	if id := collision(m.typ); id != "" {
		return fmt.Errorf("breakergen: %s.%s refers to %q, which the generated method declares itself; rename it", typeName, m.name, id)
	}

	var sig, args, resTypes []string
	for _, p := range params {
		t, a := p.typ, p.name
		if p.variadic {
			t, a = "..."+strings.TrimPrefix(t, "..."), a+"..."
		}
		sig = append(sig, p.name+" "+t)
		args = append(args, a)
	}
	for _, r := range results {
		resTypes = append(resTypes, r.typ)
	}
	call := fmt.Sprintf("w.inner.%s(%s)", m.name, strings.Join(args, ", "))
	fmt.Fprintln(b)
	if guarded {
		fmt.Fprintf(b, "// %s calls the inner %s's %s through the breaker.\n", m.name, typeName, m.name)
	} else {
		fmt.Fprintf(b, "// %s calls the inner %s's %s directly: it takes no context or returns no error.\n", m.name, typeName, m.name)
	}
	fmt.Fprintf(b, "func (w *%s) %s(%s) %s {\n", wrapper, m.name, strings.Join(sig, ", "), resultList(resTypes))
	ctxType := ""
	if guarded {
		ctxType = params[0].typ
	}
	switch {
	case !guarded && len(results) == 0:
		fmt.Fprintf(b, "\t%s\n", call)
	case !guarded:
		fmt.Fprintf(b, "\treturn %s\n", call)
	case len(results) == 1:
		fmt.Fprintf(b, "\treturn w.cb.Call(ctx, func(ctx %s) error {\n\t\treturn %s\n\t})\n", ctxType, call)
	case len(results) == 2:
		fmt.Fprintf(b, "\treturn resilience.Execute(ctx, w.cb, func(ctx %s) (%s, error) {\n\t\treturn %s\n\t})\n", ctxType, results[0].typ, call)
	default:
		var vals []string
		for i, r := range results[:len(results)-1] {
			v := fmt.Sprintf("r%d", i)
			vals = append(vals, v)
			fmt.Fprintf(b, "\tvar %s %s\n", v, r.typ)
		}
		fmt.Fprintf(b, "\terr := w.cb.Call(ctx, func(ctx %s) error {\n\t\tvar err error\n\t\t%s, err = %s\n\t\treturn err\n\t})\n",
			ctxType, strings.Join(vals, ", "), call)
		fmt.Fprintf(b, "\treturn %s, err\n", strings.Join(vals, ", "))
	}
	fmt.Fprintln(b, "}")
	return nil
}

// generatedIdent matches the identifiers a generated method declares
// (receiver, parameters, results); a type or package spelled like one of
// them would be shadowed inside the method.
var generatedIdent = regexp.MustCompile(`^(w|ctx|err|a[0-9]+|r[0-9]+)$`)

// collision returns an identifier used in ft's types that a generated
// method would shadow, or "".
func collision(ft *ast.FuncType) string {
	var found []string
	for id := range typeIdents(ft) {
		if generatedIdent.MatchString(id) {
			found = append(found, id)
		}
	}
	if len(found) == 0 {
		return ""
	}
	slices.Sort(found)
	return found[0]
}

func resultList(types []string) string {
	switch len(types) {
	case 0:
		return ""
	case 1:
		return types[0]
	}
	return "(" + strings.Join(types, ", ") + ")"
}

// flatten expands a field list into one entry per parameter. A source
// name is kept when it cannot clash with the generated code (the names it
// declares, "resilience", or an identifier the method's types use, which a
// parameter would shadow in the body); otherwise, and for unnamed or blank
// parameters, the entry is named prefix1, prefix2, ... by position.
func (g *generator) flatten(fl *ast.FieldList, prefix string, inTypes map[string]bool) []param {
	if fl == nil {
		return nil
	}
	var out []param
	for _, f := range fl.List {
		typ := f.Type
		_, variadic := typ.(*ast.Ellipsis)
		n := max(len(f.Names), 1)
		for i := range n {
			name := fmt.Sprintf("%s%d", prefix, len(out)+1)
			if i < len(f.Names) {
				if src := f.Names[i].Name; src != "_" && src != "resilience" && !generatedIdent.MatchString(src) && !inTypes[src] {
					name = src
				}
			}
			out = append(out, param{name: name, typ: g.expr(typ), variadic: variadic})
		}
	}
	return out
}

// typeIdents returns the identifiers used in the types of ft's parameters
// and results: package names and type names, not member names or the
// parameter names of nested function types.
func typeIdents(ft *ast.FuncType) map[string]bool {
	ids := map[string]bool{}
	var visit func(ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			ast.Inspect(n.Type, visit)
			return false
		case *ast.SelectorExpr:
			ast.Inspect(n.X, visit)
			return false
		case *ast.Ident:
			ids[n.Name] = true
		}
		return true
	}
	for _, fl := range []*ast.FieldList{ft.Params, ft.Results} {
		if fl != nil {
			ast.Inspect(fl, visit)
		}
	}
	return ids
}

// isContext reports whether e is context.Context as spelled in file.
func (g *generator) isContext(e ast.Expr, file *ast.File) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Context" {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	path, _, ok := resolve(file, x.Name)
	return ok && path == "context"
}

// addQualifiers adds the imports that m's signature refers to.
func (g *generator) addQualifiers(m method, imports *importSet) error {
	var err error
	ast.Inspect(m.typ, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || err != nil {
			return err == nil
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		path, explicit, found := resolve(m.file, x.Name)
		if !found {
			err = fmt.Errorf("breakergen: method %s: cannot find the import for package name %q in %s",
				m.name, x.Name, g.fset.File(m.file.Pos()).Name())
			return false
		}
		err = imports.add(x.Name, path, explicit)
		return false
	})
	return err
}
