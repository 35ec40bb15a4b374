// Command breakergen writes a circuit-breaker wrapper for a Go interface.
//
//	go run github.com/huleedu/huleedu/resilience/cmd/breakergen -type Name [-out file] [-dir pkgdir]
//
// It reads the package in -dir (default: the current directory, which is
// the package directory under go:generate), finds the interface Name and
// writes ResilientName and NewResilientName to -out (default:
// <dir>/<name_in_snake_case>_breaker.go). Every method whose first
// parameter is a context.Context and whose last result is an error runs
// through a *resilience.CircuitBreaker; the others call the wrapped value
// directly. See package resilience/internal/breakergen for the details.
//
// Typical use, next to the interface:
//
//	//go:generate go run github.com/huleedu/huleedu/resilience/cmd/breakergen -type Store
package main
