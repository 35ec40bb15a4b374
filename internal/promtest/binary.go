package promtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// BinaryEnv names the environment variable that may point at the
// prometheus binary, ahead of a $PATH lookup.
const BinaryEnv = "PROMETHEUS_BINARY"

// installHint is the advice a skipped or failed test prints.
const installHint = "install it with scripts/promtool.sh (Debian's prometheus package), " +
	"or set " + BinaryEnv + " to the binary"

// findBinary returns the prometheus binary to run: explicit if set, else
// $PROMETHEUS_BINARY, else "prometheus" on $PATH.
func findBinary(explicit string) (string, error) {
	for _, candidate := range []string{explicit, os.Getenv(BinaryEnv)} {
		if candidate == "" {
			continue
		}
		p, err := exec.LookPath(candidate)
		if err != nil {
			return "", fmt.Errorf("prometheus binary %q: %w", candidate, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("prometheus")
	if err != nil {
		return "", fmt.Errorf("prometheus is not on $PATH: %w", err)
	}
	return p, nil
}

// inCI reports whether the CI environment variable says this is a CI run
// (set, and not "false" or "0"), as GitHub Actions, GitLab and most others
// set CI=true.
func inCI(ci string) bool {
	switch strings.ToLower(strings.TrimSpace(ci)) {
	case "", "false", "0":
		return false
	}
	return true
}

// missingBinary decides what a test does without prometheus: skip locally,
// fail in CI.
func missingBinary(ci string, lookupErr error) (fail bool, msg string) {
	if inCI(ci) {
		return true, fmt.Sprintf("promtest: %v; CI=%s requires it: %s", lookupErr, ci, installHint)
	}
	return false, fmt.Sprintf("promtest: skipping, %v; %s", lookupErr, installHint)
}
