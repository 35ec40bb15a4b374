// Package readme holds the test that keeps the README's Go code true. Every
// ```go block of README.md is a whole file that can be pasted and used: a
// program (package main), which must pass go vet, or a test file (one with
// a func TestXxx), which is run with go test. Both are built against this
// module as it is now, so an example that stops working fails the test
// suite, not a user.
package readme
