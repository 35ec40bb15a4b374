package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/huleedu/huleedu/resilience/internal/breakergen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("breakergen", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	typeName := fs.String("type", "", "name of the interface to wrap (required)")
	out := fs.String("out", "", "output file (default <dir>/<type_in_snake_case>_breaker.go)")
	dir := fs.String("dir", ".", "directory of the package that declares the interface")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *typeName == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("breakergen: -type is required and no positional arguments are accepted")
	}
	path := *out
	if path == "" {
		path = filepath.Join(*dir, breakergen.DefaultOutput(*typeName))
	}
	skip := ""
	if abs, err := filepath.Abs(filepath.Dir(path)); err == nil {
		if absDir, err := filepath.Abs(*dir); err == nil && abs == absDir {
			skip = filepath.Base(path)
		}
	}
	src, err := breakergen.Generate(breakergen.Config{Dir: *dir, Type: *typeName, Skip: skip})
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return fmt.Errorf("breakergen: %w", err)
	}
	return nil
}
